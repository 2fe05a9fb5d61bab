#!/usr/bin/env python3
"""faiss side of the PDQ index benchmark (see bench.sh).

Reads db.bin / queries.bin (32 bytes per hash, bytes.fromhex order) from --dir, builds
faiss.IndexBinaryMultiHash(256, 16, 16) with nflip=1 -- the index python-threatexchange
and HMA use -- on one thread, answers range_search(radius + 1) (faiss is strict <),
writes faiss_results.bin (per query: u32 count, then the sorted u32 ids) and prints
key=value lines. With --compare it checks that schoon_results.bin holds the same sets.
"""
import argparse
import os
import sys
import time

import numpy as np
import faiss


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def read_results(path):
    data = np.fromfile(path, dtype="<u4")
    out, i = [], 0
    while i < len(data):
        n = int(data[i])
        out.append(data[i + 1 : i + 1 + n])
        i += 1 + n
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--radius", type=int, default=31)
    ap.add_argument("--compare", action="store_true")
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)

    db = np.fromfile(os.path.join(args.dir, "db.bin"), dtype=np.uint8).reshape(-1, 32)
    queries = np.fromfile(os.path.join(args.dir, "queries.bin"), dtype=np.uint8).reshape(-1, 32)
    n = len(db)

    rss0 = rss_bytes()
    t = time.perf_counter()
    c = time.process_time()
    index = faiss.IndexBinaryMultiHash(256, 16, 16)
    index.nflip = 1
    index.add(db)
    build_s = time.perf_counter() - t
    build_cpu = time.process_time() - c
    rss1 = rss_bytes()
    # The codes are copied into the index; the input array is not part of its memory.
    del db

    t = time.perf_counter()
    c = time.process_time()
    lims, dist, ids = index.range_search(queries, args.radius + 1)
    query_s = time.perf_counter() - t
    query_cpu = time.process_time() - c
    qps = len(queries) / query_s

    results = []
    with open(os.path.join(args.dir, "faiss_results.bin"), "wb") as f:
        for q in range(len(queries)):
            got = np.sort(ids[lims[q] : lims[q + 1]].astype("<u4"))
            results.append(got)
            f.write(np.uint32(len(got)).astype("<u4").tobytes())
            f.write(got.tobytes())

    print(f"faiss.version={faiss.__version__}")
    print(f"faiss.n={n}")
    print(f"faiss.build_s={build_s:.3f}")
    print(f"faiss.build_cpu_s={build_cpu:.2f}")
    print(f"faiss.rss_delta_bytes_per_hash={(rss1 - rss0) / n:.1f}")
    print(f"faiss.qps={qps:.0f}")
    print(f"faiss.us_per_query={1e6 / qps:.1f}")
    print(f"faiss.qps_cpu={len(queries) / max(query_cpu, 1e-9):.0f}")
    print(f"faiss.matches={int(lims[-1])}")

    if args.compare:
        ours = read_results(os.path.join(args.dir, "schoon_results.bin"))
        if len(ours) != len(results):
            print("compare.same_sets=NO (different query counts)")
            sys.exit(1)
        diff = [q for q in range(len(results)) if not np.array_equal(ours[q], results[q])]
        print(f"compare.queries={len(results)}")
        print(f"compare.mismatching_queries={len(diff)}")
        print(f"compare.same_sets={'yes' if not diff else 'NO'}")
        if diff:
            q = diff[0]
            print(f"compare.first_mismatch=query {q}: schoon {list(ours[q][:10])} faiss {list(results[q][:10])}")
            sys.exit(1)


if __name__ == "__main__":
    main()
