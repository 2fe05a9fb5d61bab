#!/usr/bin/env bash
# PDQ speed: our Rust hasher vs the PyPI `pdqhash` (Meta's C++ core), single thread each, on the
# same Pillow-decoded RGB pixels; checks the hashes and qualities are identical.
# Each round times both sides back to back (RUNS runs each, minimum kept); the table shows the
# minimum over ROUNDS rounds, so a busy machine affects both sides alike.
# Usage: bash bench/pdq/bench.sh [RUNS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS="${1:-15}"
ROUNDS="${2:-3}"
TESTDATA="$(cd ../shared/testdata/pdq && pwd)"
OUT=bench/out/pdq
VENV=bench/.venv
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1

if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c "import pdqhash, numpy, PIL" 2>/dev/null || "$VENV/bin/pip" install -q pdqhash numpy pillow
cargo build -q --release -p pdq --example pdq_bench

rm -f "$OUT"/round-*.tsv
reuse=""
for round in $(seq "$ROUNDS"); do
  "$VENV/bin/python" bench/pdq/bench.py "$TESTDATA" "$OUT" "$RUNS" $reuse
  reuse="--reuse"
  target/release/examples/pdq_bench "$OUT/manifest.tsv" "$RUNS" > "$OUT/rust.tsv"
  # name ref_ms ref_hash ref_q ours_ms dihedral_ms hash q
  join -t $'\t' <(grep -v '^#' "$OUT/manifest.tsv" | cut -f1,5,6,7 | sort) <(sort "$OUT/rust.tsv") > "$OUT/round-$round.tsv"
done

echo
printf '%-18s %10s %10s %8s %12s %s\n' image pdqhash_ms ours_ms ratio dihedral_ms identical
fail=0
for name in $(cut -f1 "$OUT/round-1.tsv"); do
  read -r ref_ms ms dms < <(cat "$OUT"/round-*.tsv | awk -F'\t' -v n="$name" '$1 == n {
      if (r == "" || $2 < r) r = $2; if (o == "" || $5 < o) o = $5; if (d == "" || $6 < d) d = $6 }
      END { print r, o, d }')
  same=yes
  if cat "$OUT"/round-*.tsv | awk -F'\t' -v n="$name" '$1 == n && ($3 != $7 || $4 != $8) { bad = 1 } END { exit !bad }'; then
    same=NO; fail=1
  fi
  ratio=$(awk -v a="$ref_ms" -v b="$ms" 'BEGIN { printf "%.1fx", a / b }')
  printf '%-18s %10s %10s %8s %12s %s\n' "$name" "$ref_ms" "$ms" "$ratio" "$dms" "$same"
done
echo
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); pdqhash $("$VENV/bin/python" -c 'import pdqhash; print(pdqhash.__version__)'); $(rustc --version)"
exit $fail
