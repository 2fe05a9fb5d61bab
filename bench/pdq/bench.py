#!/usr/bin/env python3
"""Decodes the benchmark images once with Pillow, writes their raw RGB8 pixels, and times the
PyPI `pdqhash` (Meta's C++ core) on them. Writes OUT/manifest.tsv for the Rust side
(crates/pdq/examples/pdq_bench.rs). Run through bench/pdq/bench.sh.

Usage: bench.py TESTDATA OUT RUNS [--reuse]   (--reuse: time the raw files already in OUT)"""

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
    reuse = "--reuse" in sys.argv
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, rel in IMAGES:
        raw = out / f"{name}.rgb"
        if reuse:
            w, h = map(int, name.rsplit("-", 1)[1].split("x"))
            img = np.frombuffer(raw.read_bytes(), dtype=np.uint8).reshape(h, w, 3).copy()
        else:
            img = np.ascontiguousarray(np.asarray(Image.open(testdata / rel).convert("RGB")))
            raw.write_bytes(img.tobytes())
        h, w, _ = img.shape
        bits, q = pdqhash.compute(img)
        best = float("inf")
        for _ in range(runs):
            t = time.perf_counter()
            pdqhash.compute(img)
            best = min(best, time.perf_counter() - t)
        hexhash = "%064x" % int("".join(str(int(b)) for b in bits), 2)
        lines.append(f"{name}\t{w}\t{h}\t{raw}\t{best * 1e3:.3f}\t{hexhash}\t{q}\n")
    with open(out / "manifest.tsv", "w") as m:
        m.write("# name\twidth\theight\traw\tref_ms\tref_hash\tref_quality\n")
        m.writelines(lines)


if __name__ == "__main__":
    main()
