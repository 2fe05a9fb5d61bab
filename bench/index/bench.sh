#!/usr/bin/env bash
# PDQ index benchmark: schoon's PdqIndex against faiss IndexBinaryMultiHash(256,16,16)
# (what python-threatexchange / HMA use), single thread, radius 31, same data, same
# queries, same answers required.
#
#   bench/index/bench.sh            # 1M uniform + 1M clustered (a few minutes)
#   bench/index/bench.sh --10m      # also 10M uniform + 10M clustered (faiss alone ~3 min per set)
#   bench/index/bench.sh --no-faiss # schoon only
#
# Data sets (seeded, written once to bench/out/index/<set>/ and read by both sides):
#   uniform:   N random 256-bit hashes
#   clustered: N/100 random centres x 100 members, each 0..=20 random bits from its centre
# Queries: 10 000, even ones an entry with 0..=32 bits flipped, odd ones random.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/out/index}
VENV=$ROOT/bench/.venv
SIZES=(1000000)
FAISS=1
for a in "$@"; do
  case $a in
    --10m) SIZES=(1000000 10000000) ;;
    --no-faiss) FAISS=0 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

if [[ $FAISS == 1 && ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
if [[ $FAISS == 1 ]]; then
  "$VENV/bin/pip" install -q "faiss-cpu==1.15.1" numpy
fi
# CARGO_TARGET_DIR may point at a private target dir (the shared one is often locked).
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && cargo build --release -q -p index --example index_bench)
BIN=$TARGET/release/examples/index_bench

mkdir -p "$OUT"
SUMMARY=$OUT/summary.md
{
  echo "# PDQ index benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(grep -c ^processor /proc/cpuinfo) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "Wall-clock rates, and in brackets rates per CPU-second of the benchmark process (steadier on a shared machine)."
  echo
  echo "| set | N | schoon q/s | faiss q/s | ratio | same sets | schoon build s | faiss build s | schoon B/hash | faiss RSS B/hash | snapshot load s | dihedral batches/s | load avg |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$SUMMARY"

for n in "${SIZES[@]}"; do
  for kind in uniform clustered; do
    set_dir=$OUT/$kind-$n
    if [[ ! -f $set_dir/db.bin ]]; then
      "$BIN" gen --n "$n" --kind "$kind" --queries 10000 --seed 42 --dir "$set_dir"
    fi
    echo "== $kind $n: schoon" >&2
    "$BIN" run --dir "$set_dir" --radius 31 --repeat 3 | tee "$set_dir/schoon.txt"
    fq=- ; fb=- ; fr=- ; same=- ; fqc=- ; fbc=-
    if [[ $FAISS == 1 ]]; then
      echo "== $kind $n: faiss" >&2
      "$VENV/bin/python" "$ROOT/bench/index/faiss_bench.py" --dir "$set_dir" --radius 31 --compare | tee "$set_dir/faiss.txt"
      fq=$(grep '^faiss.qps=' "$set_dir/faiss.txt" | cut -d= -f2)
      fb=$(grep '^faiss.build_s=' "$set_dir/faiss.txt" | cut -d= -f2)
      fr=$(grep '^faiss.rss_delta_bytes_per_hash=' "$set_dir/faiss.txt" | cut -d= -f2)
      same=$(grep '^compare.same_sets=' "$set_dir/faiss.txt" | cut -d= -f2)
      fqc=$(grep '^faiss.qps_cpu=' "$set_dir/faiss.txt" | cut -d= -f2)
      fbc=$(grep '^faiss.build_cpu_s=' "$set_dir/faiss.txt" | cut -d= -f2)
    fi
    g() { grep "^schoon.$1=" "$set_dir/schoon.txt" | cut -d= -f2; }
    sq=$(g qps)
    sqc=$(g qps_cpu)
    ratio=-
    if [[ $fq != - ]]; then ratio=$(python3 -c "print(f'{$sq/$fq:.1f}x ({$sqc/$fqc:.1f}x)')"); fi
    echo "| $kind | $n | $sq ($sqc) | $fq ($fqc) | $ratio | $same | $(g build_s) ($(g build_cpu_s)) | $fb ($fbc) | $(g bytes_per_hash) | $fr | $(g snapshot_load_s) ($(g snapshot_load_cpu_s)) | $(g dihedral_batches_per_s) | $(cut -d' ' -f1 /proc/loadavg) |" >> "$SUMMARY"
  done
done
echo >&2
cat "$SUMMARY"
