#!/usr/bin/env bash
# Files -> PDQ + MD5 + SHA-1 + SHA-256, all cores: `schoon hash` against Pillow + pdqhash (Meta's C++ core)
# + hashlib, as python-threatexchange/HMA hash a file. Same files, one run, prints the ratio and checks agreement.
#
#   bench/hash/bench.sh [ROUNDS]      (default 5 rounds over ../shared/testdata/pdq)
source "$(dirname "$0")/../lib.sh"
ROUNDS="${1:-5}"
DATA="$ROOT/../shared/testdata/pdq"
OUT="$ROOT/bench/out/hash"
mkdir -p "$OUT"

bench_venv "pdqhash==0.2.8" "pillow==13.0.0" "numpy==2.4.6"
bench_build

mapfile -t FILES < <(find "$DATA" -type f \( -name '*.jpg' -o -name '*.jpeg' -o -name '*.png' -o -name '*.webp' \) | sort)
ARGS=()
for _ in $(seq "$ROUNDS"); do ARGS+=("${FILES[@]}"); done
echo "machine: $(machine_line)"
echo "corpus: ${#FILES[@]} files x $ROUNDS rounds = ${#ARGS[@]} files"

t0=$(date +%s.%N)
"$SCHOON" hash --format csv "${ARGS[@]}" > "$OUT/schoon.csv" 2> "$OUT/schoon.err" || true
t1=$(date +%s.%N)
"$VENV_PY" "$ROOT/bench/hash/reference.py" "${ARGS[@]}" > "$OUT/reference.csv"
t2=$(date +%s.%N)

"$VENV_PY" - "$OUT/schoon.csv" "$OUT/reference.csv" "$t0" "$t1" "$t2" "${#ARGS[@]}" <<'PY'
import csv, sys
ours_path, ref_path, t0, t1, t2, n = sys.argv[1:]
t0, t1, t2, n = float(t0), float(t1), float(t2), int(n)
ours = {r["path"]: r for r in csv.DictReader(open(ours_path))}
ref = {r["path"]: r for r in csv.DictReader(open(ref_path))}
dist = {}
digest_mismatch = 0
for p, r in ref.items():
    o = ours.get(p)
    if o is None:
        continue
    d = bin(int(o["pdq"], 16) ^ int(r["pdq"], 16)).count("1")
    dist[d] = dist.get(d, 0) + 1
    digest_mismatch += any(o[k] != r[k] for k in ("md5", "sha1", "sha256"))
s_ours, s_ref = t1 - t0, t2 - t1
print(f"schoon hash : {s_ours:7.2f} s  {n / s_ours:8.1f} files/s")
print(f"Pillow+pdqhash+hashlib (2 procs): {s_ref:7.2f} s  {n / s_ref:8.1f} files/s")
print(f"ratio       : {s_ref / s_ours:.1f}x")
print(f"files compared: {sum(dist.values())} unique, digests differing: {digest_mismatch}")
print("PDQ distance distribution (ours vs reference):", dict(sorted(dist.items())))
PY

# Where the time goes, one core, best of 3 per file, summed over the corpus (each file once): the
# reference's own decode share bounds the end-to-end ratio any decoder of equal speed could reach.
"$VENV_PY" "$ROOT/bench/hash/reference.py" --stages "${FILES[@]}" > "$OUT/reference_stages.txt"
(cd "$ROOT" && cargo run --release --locked --quiet -p media --example bench -- -n 3 "${FILES[@]}") \
    > "$OUT/schoon_stages.txt"
"$VENV_PY" - "$OUT/reference_stages.txt" "$OUT/schoon_stages.txt" <<'PY'
import sys
ref = dict((k, float(v)) for k, v in (l.split() for l in open(sys.argv[1]) if l.strip()))
total = next(l.split() for l in open(sys.argv[2]) if l.startswith("TOTAL"))
# TOTAL columns: name, bytes, MP, digest, decode, pdq, dihedral, whole hash_bytes
ours = {"digests": float(total[3]), "decode": float(total[4]), "pdq": float(total[5])}
print("stage (one core, ms summed over the corpus) | reference | schoon | ratio")
for k in ("decode", "pdq", "digests"):
    print(f"  {k:<8} | {ref[k]:9.1f} | {ours[k]:9.1f} | {ref[k] / ours[k]:6.1f}x")
rt, ot = sum(ref.values()), sum(ours.values())
print(f"  {'sum':<8} | {rt:9.1f} | {ot:9.1f} | {rt / ot:6.1f}x   (whole hash_bytes: {float(total[7]):.1f} ms)")
print(f"reference decode share: {100 * ref['decode'] / rt:.0f} %")
print(f"ceiling with a decoder as fast as the reference's and free PDQ + digests: {rt / ref['decode']:.1f}x")
print(f"decoder speed needed for 10x with today's PDQ + digests: "
      f"{ref['decode'] / max(rt / 10 - ours['pdq'] - ours['digests'], 1e-9):.1f}x the reference decoder"
      if rt / 10 > ours['pdq'] + ours['digests'] else
      "10x is out of reach even with a zero-time decoder")
PY
