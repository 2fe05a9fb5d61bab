#!/usr/bin/env bash
# Check-online throughput: N monitored URLs (default 10,000) on a loopback web server, re-checked
# back to back for a fixed window by the real check path (safe fetcher → SHA-256 compare →
# observation written to SQLite with the offline verdict), release build.
# Driver: crates/server/examples/checkonline_bench.rs (`site` and `check` modes, two processes,
# so the web server's CPU is not counted as the checker's).
#
# Env: URLS (default 10000), SECS (measured window, default 120), CONCURRENCY (default 32),
#      PORT (default 18088), SKIP_BUILD=1, CARGO_TARGET_DIR.
# Output: bench/out/checkonline-<time>/{result.json,check.time,site.time} and a summary line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
URLS=${URLS:-10000}
SECS=${SECS:-120}
CONCURRENCY=${CONCURRENCY:-32}
PORT=${PORT:-18088}
cd "$ROOT"
if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --release -q -p server --example checkonline_bench
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/examples/checkonline_bench
OUT=$ROOT/bench/out/checkonline-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
SITE_PID=""
# Stop the site (the child of `time`, so that `time` still writes site.time).
cleanup() { [[ -n "$SITE_PID" ]] && pkill -TERM -P "$SITE_PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

# The site outlives the checker's setup + window; it exits by itself.
/usr/bin/time -v -o "$OUT/site.time" "$BIN" site --port "$PORT" --secs $((SECS + 900)) \
    2> "$OUT/site.log" &
SITE_PID=$!
sleep 1
echo "== $URLS URLs, ${SECS}s window, concurrency $CONCURRENCY"
/usr/bin/time -v -o "$OUT/check.time" "$BIN" check --site-port "$PORT" --urls "$URLS" \
    --secs "$SECS" --concurrency "$CONCURRENCY" --data "$OUT/data" \
    > "$OUT/result.json" 2> "$OUT/check.log"
cat "$OUT/result.json"
python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
r = json.loads(open(f"{out}/result.json").read().strip().splitlines()[-1])
t = open(f"{out}/check.time").read()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
cpu = re.search(r"Percent of CPU this job got: (\d+)%", t).group(1)
print(f"re-checks/hour: {r['rechecks_per_hour']:,.0f}  ({r['checks']:,} checks in {r['window_s']:.1f} s)")
print(f"  x{r['vs_scart_900_per_hour']} SCART's ~900/h; {r['vs_target_100k_per_hour']} of the 100,000/h target")
print(f"  checker CPU in window: {r['cpu_s']:.1f} s ({r['cpu_cores_busy']:.2f} cores); whole process {cpu}% CPU, peak RSS {rss/1024:.0f} MiB (setup {r['setup_s']:.0f} s incl.)")
PY
echo "machine: $(date -u +%Y-%m-%d) · $(lscpu | sed -n 's/^Model name: *//p' | head -1) · $(nproc) cores"
echo "output: $OUT"
