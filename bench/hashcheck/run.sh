#!/usr/bin/env bash
# Hash-check speed bench: `schoon serve` (release) on loopback with a 1M-entry PDQ list, driven by
# crates/server/examples/hashcheck_load.rs:
#   1. batched: 1,000 hashes per request, back to back  → hash checks per second (goal ≥ 50,000/s)
#   2. single: one hash per request, open loop at 2,000 requests/s → p99 latency (goal ≤ 5 ms)
# Traffic goes to 127.0.0.1 only; every phase is bounded in time. Output: bench/out/hashcheck-*/.
#
# Env: N (entries, default 1000000), DURATION (s per phase, default 15), RATE (default 2000),
#      CONCURRENCY (batch workers, default 2), BATCH (default 1000), SKIP_BUILD=1,
#      CARGO_TARGET_DIR (where the release binaries are), REUSE (earlier output dir: skip import).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-1000000}
DURATION=${DURATION:-15}
RATE=${RATE:-2000}
CONCURRENCY=${CONCURRENCY:-2}
BATCH=${BATCH:-1000}
cd "$ROOT"
if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --release -q -p schoon
    cargo build --release -q -p server --example hashcheck_load
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${PROFILE:-release}
BIN=$TARGET/$PROFILE/schoon
LOAD=$TARGET/$PROFILE/examples/hashcheck_load
OUT=$ROOT/bench/out/hashcheck-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
SERVER_PID=""
cleanup() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

DATA=$OUT/data
admin() { "$BIN" admin --data "$DATA" "$@"; }
jget() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }
if [[ -n "${REUSE:-}" ]]; then
    # REUSE=<an earlier bench/out/hashcheck-* dir>: same list, skip generation and import
    echo "== reusing the list of $REUSE"
    cp -r "$REUSE/data" "$DATA"
    cp "$REUSE/known.txt" "$OUT/known.txt"
    N=$(wc -l < "$REUSE/list.txt" 2>/dev/null || echo "$N")
    TOKEN=$(admin key create --org 1 | jget token)
    IMPORT_S=$(python3 -c "import json; print(json.load(open('$REUSE/results.json'))['import_s'])" 2>/dev/null || echo 0)
else
    echo "== generating $N random PDQ hashes"
    python3 - "$N" "$OUT" <<'PY'
import os, sys
n, out = int(sys.argv[1]), sys.argv[2]
with open(f"{out}/list.txt", "w") as f, open(f"{out}/known.txt", "w") as k:
    for i in range(n):
        h = os.urandom(32).hex()
        f.write(h + "\n")
        if i < 1000:
            k.write(h + "\n")
PY

    TENANT=$(admin tenant create bench | jget id)
    ORG=$(admin org create --tenant "$TENANT" bench-org | jget id)
    TOKEN=$(admin key create --org "$ORG" | jget token)
    LIST=$(admin list create --tenant "$TENANT" --kind known bench-list | jget id)
    echo "== importing (one transaction)"
    t0=$(date +%s.%N)
    admin list upload "$LIST" "$OUT/list.txt" --type pdq
    t1=$(date +%s.%N)
    IMPORT_S=$(python3 -c "print(round($t1-$t0,1))")
fi

echo "== starting schoon serve"
t0=$(date +%s.%N)
SCHOON_RATE_LIMIT__PER_SECOND=0 SCHOON_LOG_FORMAT=json RUST_LOG=${RUST_LOG:-info,sqlx=warn} \
    "$BIN" serve --data "$DATA" --listen 127.0.0.1:0 >"$OUT/serve.out" 2>"$OUT/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 6000); do
    grep -q 'listening on' "$OUT/serve.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/serve.log"; exit 1; }
    sleep 0.1
done
t1=$(date +%s.%N)
START_S=$(python3 -c "print(round($t1-$t0,1))")
BASE=$(sed -n 's/^schoon: listening on \(http:[^ ]*\)$/\1/p' "$OUT/serve.out" | head -1)
RSS_MB=$(( $(awk '/VmRSS/ {print $2}' /proc/$SERVER_PID/status) / 1024 ))
echo "server at $BASE (start incl. matcher build ${START_S}s, RSS ${RSS_MB} MB)"

echo "== warm-up"
"$LOAD" --base "$BASE" --token "$TOKEN" --mode batch --concurrency 1 --batch-size 100 --duration 2 >/dev/null
echo "== batched: $CONCURRENCY workers x $BATCH hashes"
"$LOAD" --base "$BASE" --token "$TOKEN" --mode batch --concurrency "$CONCURRENCY" --batch-size "$BATCH" \
    --duration "$DURATION" --known-file "$OUT/known.txt" --known-every 1000 | tee "$OUT/batch.json"
echo "== single hashes, open loop at $RATE req/s"
"$LOAD" --base "$BASE" --token "$TOKEN" --mode single --rate "$RATE" --duration "$DURATION" \
    --known-file "$OUT/known.txt" --known-every 1000 | tee "$OUT/single.json"

python3 - "$OUT" "$N" "$IMPORT_S" "$START_S" "$RSS_MB" <<'PY'
import json, sys, platform, datetime
out, n, imp, start, rss = sys.argv[1:6]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
res = {
    "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
    "cpu": cpu, "cores": __import__("os").cpu_count(), "entries": int(n),
    "import_s": float(imp), "start_with_matcher_build_s": float(start), "server_rss_mb": int(rss),
    "batch": json.load(open(f"{out}/batch.json")), "single": json.load(open(f"{out}/single.json")),
}
json.dump(res, open(f"{out}/results.json", "w"), indent=2)
print(json.dumps(res, indent=2))
PY
