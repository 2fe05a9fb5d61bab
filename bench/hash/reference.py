"""The reference file hasher: what python-threatexchange / HMA compute per file, on all cores.

Pillow decode -> convert("RGB") -> pdqhash.compute (Meta's C++ core), plus hashlib digests of the bytes.
Prints CSV in `schoon hash --format csv` columns. With `--stages`, hashes the files once in this one
process instead and prints, per stage, the best-of-3 milliseconds summed over the files: where the
reference spends its time, so the share that decoding alone takes is measured, not guessed.
"""
import csv
import hashlib
import multiprocessing
import os
import sys
import time

import numpy
import pdqhash
from PIL import Image


def hash_file(path):
    with open(path, "rb") as f:
        data = f.read()
    img = Image.open(path)
    rgb = numpy.ascontiguousarray(numpy.asarray(img.convert("RGB")))
    bits, quality = pdqhash.compute(rgb)
    pdq = "%064x" % int("".join(map(str, bits)), 2)
    return [path, img.width, img.height, quality, pdq,
            hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest()]


def best_ms(f, runs=3):
    best = None
    for _ in range(runs):
        t = time.perf_counter()
        f()
        e = (time.perf_counter() - t) * 1000.0
        best = e if best is None or e < best else best
    return best


def stages(paths):
    total = {"decode": 0.0, "pdq": 0.0, "digests": 0.0}
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        # Pillow's decode and RGB conversion, into the contiguous array pdqhash takes.
        decode = lambda: numpy.ascontiguousarray(numpy.asarray(Image.open(path).convert("RGB")))
        rgb = decode()
        total["decode"] += best_ms(decode)
        total["pdq"] += best_ms(lambda: pdqhash.compute(rgb))
        total["digests"] += best_ms(
            lambda: (hashlib.md5(data).digest(), hashlib.sha1(data).digest(), hashlib.sha256(data).digest()))
    for k, v in total.items():
        print(f"{k} {v:.1f}")


def main():
    paths = sys.argv[1:]
    if paths and paths[0] == "--stages":
        stages(paths[1:])
        return
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["path", "width", "height", "quality", "pdq", "md5", "sha1", "sha256"])
    with multiprocessing.Pool(os.cpu_count()) as pool:
        for row in pool.imap(hash_file, paths, chunksize=4):
            out.writerow(row)


if __name__ == "__main__":
    main()
