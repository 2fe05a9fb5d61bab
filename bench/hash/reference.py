"""The reference file hasher: what python-threatexchange / HMA compute per file, on all cores.

Pillow decode -> convert("RGB") -> pdqhash.compute (Meta's C++ core), plus hashlib digests of the bytes.
Prints CSV in `schoon hash --format csv` columns.
"""
import csv
import hashlib
import multiprocessing
import os
import sys

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


def main():
    paths = sys.argv[1:]
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["path", "width", "height", "quality", "pdq", "md5", "sha1", "sha256"])
    with multiprocessing.Pool(os.cpu_count()) as pool:
        for row in pool.imap(hash_file, paths, chunksize=4):
            out.writerow(row)


if __name__ == "__main__":
    main()
