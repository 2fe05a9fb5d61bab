#!/usr/bin/env bash
# PDQ speed: our Rust hasher vs the PyPI `pdqhash` (Meta's C++ core), single thread each, on the
# same Pillow-decoded RGB pixels; checks the hashes are identical.
# Usage: bash bench/pdq/bench.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-15}"
TESTDATA="$(cd ../shared/testdata/pdq && pwd)"
OUT=bench/out/pdq
VENV=bench/.venv
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1

if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c "import pdqhash, numpy, PIL" 2>/dev/null || "$VENV/bin/pip" install -q pdqhash numpy pillow

"$VENV/bin/python" bench/pdq/bench.py "$TESTDATA" "$OUT" "$RUNS"
cargo build -q --release -p pdq --example pdq_bench
target/release/examples/pdq_bench "$OUT/manifest.tsv" "$RUNS" > "$OUT/rust.tsv"

echo
printf '%-18s %10s %10s %8s %12s %s\n' image pdqhash_ms ours_ms ratio dihedral_ms identical
fail=0
while IFS=$'\t' read -r name w h raw ref_ms ref_hash ref_q; do
  [[ "$name" == \#* ]] && continue
  IFS=$'\t' read -r rname ms dms hash q < <(grep -P "^${name}\t" "$OUT/rust.tsv")
  same=yes
  if [ "$hash" != "$ref_hash" ] || [ "$q" != "$ref_q" ]; then same="NO ($hash q$q vs $ref_hash q$ref_q)"; fail=1; fi
  ratio=$(awk -v a="$ref_ms" -v b="$ms" 'BEGIN { printf "%.1fx", a / b }')
  printf '%-18s %10s %10s %8s %12s %s\n' "$name" "$ref_ms" "$ms" "$ratio" "$dms" "$same"
done < "$OUT/manifest.tsv"
echo
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p')"
exit $fail
