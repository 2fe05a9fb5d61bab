#!/usr/bin/env python3
"""Writes crates/pdq/tests/data/synthetic.csv: PDQ hashes of synthetic RGB images computed by
the PyPI `pdqhash` package (Meta's C++ core). Dev-only; needs `pdqhash` and `numpy`
(bench/pdq/bench.sh sets up bench/.venv with both).

The images are not stored: each is defined by (kind, seed, width, height) and the formula
below, which crates/pdq/tests/synthetic.rs reimplements to regenerate identical pixels.

    mix32(z): z ^= z >> 16; z *= 0x7feb352d; z ^= z >> 15; z *= 0x846ca68b; z ^= z >> 16
              (all arithmetic modulo 2**32)
    n(x, y, c) = mix32(seed * 0x9e3779b9 + (y * width + x) * 3 + c)       (modulo 2**32)
    kind 0 (noise):    value = n >> 24
    kind 1 (textured): value = ((x * 255) // width + (y * 7) % 64 + c * 50 + (n >> 27)
                                + 96 * ((x // 13 + y // 17) % 2)) % 256
"""

import csv
import pathlib
import sys

import numpy as np
import pdqhash

M32 = 0xFFFFFFFF

# (kind, seed, width, height)
CASES = [
    (0, 1, 1, 1),
    (0, 2, 4, 100),
    (0, 3, 100, 4),
    (0, 4, 5, 5),
    (1, 5, 5, 200),
    (0, 6, 63, 65),
    (0, 7, 64, 64),
    (1, 8, 64, 64),
    (1, 9, 65, 64),
    (0, 10, 127, 300),
    (1, 11, 128, 128),
    (0, 12, 129, 257),
    (1, 13, 256, 256),
    (0, 14, 333, 517),
    (1, 15, 640, 480),
    (1, 16, 1001, 77),
    (0, 17, 77, 1001),
    (1, 18, 1023, 769),
    (0, 19, 2000, 1500),
    (1, 20, 2000, 1500),
]


def mix32(z):
    z = z & M32
    z ^= z >> 16
    z = (z * 0x7FEB352D) & M32
    z ^= z >> 15
    z = (z * 0x846CA68B) & M32
    z ^= z >> 16
    return z


def image(kind, seed, width, height):
    y, x, c = np.meshgrid(
        np.arange(height, dtype=np.uint64),
        np.arange(width, dtype=np.uint64),
        np.arange(3, dtype=np.uint64),
        indexing="ij",
    )
    n = mix32((np.uint64(seed) * np.uint64(0x9E3779B9)) + (y * np.uint64(width) + x) * np.uint64(3) + c)
    if kind == 0:
        v = n >> np.uint64(24)
    else:
        v = (
            (x * np.uint64(255)) // np.uint64(width)
            + (y * np.uint64(7)) % np.uint64(64)
            + c * np.uint64(50)
            + (n >> np.uint64(27))
            + np.uint64(96) * ((x // np.uint64(13) + y // np.uint64(17)) % np.uint64(2))
        ) % np.uint64(256)
    return np.ascontiguousarray(v.astype(np.uint8))


def to_hex(bits):
    return "%064x" % int("".join(str(int(b)) for b in bits), 2)


def main():
    out = pathlib.Path(__file__).resolve().parents[2] / "crates/pdq/tests/data/synthetic.csv"
    rows = []
    for kind, seed, w, h in CASES:
        img = image(kind, seed, w, h)
        bits, q = pdqhash.compute(img)
        dih, qd = pdqhash.compute_dihedral(img)
        rows.append(
            [kind, seed, w, h, int(img.astype(np.uint64).sum()), q, to_hex(bits), qd] + [to_hex(b) for b in dih]
        )
        print(kind, seed, w, h, q, qd, to_hex(bits), file=sys.stderr)
    with open(out, "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(
            ["kind", "seed", "width", "height", "pixel_sum", "quality", "pdq", "dihedral_quality"]
            + ["original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1"]
        )
        wr.writerows(rows)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
