#!/usr/bin/env python3
"""Decodes the benchmark images once with Pillow, writes their raw RGB8 pixels, and times the
PyPI `pdqhash` (Meta's C++ core) on them. Writes OUT/manifest.tsv for the Rust side
(crates/pdq/examples/pdq_bench.rs). Run through bench/pdq/bench.sh."""

import pathlib
import sys
import time

import numpy as np
import pdqhash
from PIL import Image

IMAGES = [
    ("bridge-1600x1004", "data/bridge-mods/aaa-orig.jpg"),
    ("photo-4032x3024", "data/reg-test-input/exif-rotn/exif-rotn-1.jpg"),
    ("square-512x512", "data/bridge-mods/square-512x512.jpg"),
    ("pen-924x735", "data/reg-test-input/pen-and-coaster.png"),
    ("labelme-256x256", "data/reg-test-input/labelme-subset/q2821.jpg"),
]


def main():
    testdata = pathlib.Path(sys.argv[1])
    out = pathlib.Path(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "manifest.tsv", "w") as m:
        m.write("# name\twidth\theight\traw\tref_ms\tref_hash\tref_quality\n")
        for name, rel in IMAGES:
            img = np.ascontiguousarray(np.asarray(Image.open(testdata / rel).convert("RGB")))
            h, w, _ = img.shape
            raw = out / f"{name}.rgb"
            raw.write_bytes(img.tobytes())
            bits, q = pdqhash.compute(img)
            best = float("inf")
            for _ in range(runs):
                t = time.perf_counter()
                pdqhash.compute(img)
                best = min(best, time.perf_counter() - t)
            hexhash = "%064x" % int("".join(str(int(b)) for b in bits), 2)
            m.write(f"{name}\t{w}\t{h}\t{raw}\t{best * 1e3:.3f}\t{hexhash}\t{q}\n")
            print(f"{name}: pdqhash {best * 1e3:.2f} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
