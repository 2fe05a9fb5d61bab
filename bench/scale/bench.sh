#!/usr/bin/env bash
# Scale bench ([scale] #10): several schoon processes on one PostgreSQL vs one on SQLite.
#   1. hash checks: the [hashcheck] load generator (crates/server/examples/hashcheck_load.rs)
#      against (a) one `schoon serve` on SQLite and (b) two `--role api` nodes on PostgreSQL
#      (fresh schema), the generator alternating between the two (no proxy): checks/s and ratio;
#   2. check-online: N monitored cases (seeded by crates/server/examples/scale_seed.rs, served
#      by `checkonline_bench site`) re-checked for SECS seconds by (a) one node on SQLite and
#      (b) three `--role worker` nodes on PostgreSQL; whenever nothing is due, every case is made
#      due again (what the manual clock does in bench/checkonline): re-checks per hour and ratio.
# Everything runs on 127.0.0.1; the load average is sampled before and after each phase.
#
# Env: PGURL (default $SCHOON_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test),
#      N (list entries, default 200000), DURATION (s per hash-check phase, default 15),
#      CONCURRENCY (batch workers, default 2), BATCH (default 1000), RATE (open loop, default 2000),
#      URLS (check-online cases, default 5000), SECS (check-online window, default 60),
#      PORT (site port, default 18089), SKIP_BUILD=1, CARGO_TARGET_DIR, PROFILE (default release).
# Output: bench/out/scale-<time>/ (logs, JSON per phase, results.json) and a summary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PGURL=${PGURL:-${SCHOON_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}
N=${N:-200000}
DURATION=${DURATION:-15}
CONCURRENCY=${CONCURRENCY:-2}
BATCH=${BATCH:-1000}
RATE=${RATE:-2000}
URLS=${URLS:-5000}
SECS=${SECS:-60}
PORT=${PORT:-18089}
cd "$ROOT"
if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --release -q -p schoon
    cargo build --release -q -p server --example hashcheck_load --example checkonline_bench \
        --example scale_seed
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${PROFILE:-release}
BIN=$TARGET/$PROFILE/schoon
EX=$TARGET/$PROFILE/examples
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/bench/out/scale-$STAMP
mkdir -p "$OUT"
S_HASH=bench_scale_hash_$(date -u +%s)
S_CHECK=bench_scale_check_$(date -u +%s)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -q "$PGURL" -c "DROP SCHEMA IF EXISTS $S_HASH CASCADE" -c "DROP SCHEMA IF EXISTS $S_CHECK CASCADE" \
        >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql -q "$PGURL" -c 'select 1' >/dev/null || { echo "cannot connect to $PGURL" >&2; exit 1; }
with_schema() { case "$1" in *\?*) echo "$1&options=-c%20search_path%3D$2" ;; *) echo "$1?options=-c%20search_path%3D$2" ;; esac; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
jq_() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }

# Starts `schoon serve` with the given arguments; sets NODE_PID and NODE_BASE (waits for the
# listen line); the admin token, if this start bootstrapped, is in $OUT/<name>.out.
start_node() {
    local name=$1; shift
    SCHOON_RATE_LIMIT__PER_SECOND=0 SCHOON_LIMITS__REQUEST_TIMEOUT_SECS=900 SCHOON_LOG_FORMAT=json RUST_LOG=${RUST_LOG:-warn} \
        "$BIN" serve --listen 127.0.0.1:0 "$@" >"$OUT/$name.out" 2>"$OUT/$name.log" &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    for _ in $(seq 1 600); do
        grep -q 'listening on' "$OUT/$name.out" 2>/dev/null && break
        kill -0 "$NODE_PID" 2>/dev/null || { cat "$OUT/$name.log"; exit 1; }
        sleep 0.1
    done
    NODE_BASE=$(sed -n 's/^schoon: listening on \(http:[^ ]*\)$/\1/p' "$OUT/$name.out" | head -1)
    [[ -n "$NODE_BASE" ]] || { echo "$name did not start" >&2; cat "$OUT/$name.log"; exit 1; }
}
token_of() { grep -A2 'Admin token' "$OUT/$1.out" | sed -n '3p' | tr -d ' '; }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
cpu_of() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
api() { # api METHOD BASE PATH TOKEN [curl args…]
    local m=$1 base=$2 path=$3 tok=$4; shift 4
    curl -sf -X "$m" -H "Authorization: Bearer $tok" "$base$path" "$@"
}
entries_of() { curl -sf "$1/metrics" | sed -n 's/^[a-z_]*matcher_entries[^ ]* \([0-9.e+]*\)$/\1/p' | head -1; }

echo "== list of $N random PDQ hashes"
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

# Tenant, list upload, a check key on the node at $1 with admin token $2; prints the check key.
setup_hashcheck() {
    local base=$1 tok=$2 tenant list org
    tenant=$(api GET "$base" /api/admin/tenants "$tok" | jq_ 'd[0]["id"]')
    list=$(api POST "$base" "/api/admin/tenants/$tenant/lists" "$tok" -H 'content-type: application/json' \
        -d '{"name":"bench-list","kind":"known"}' | jq_ 'd["id"]')
    local t0 t1
    t0=$(date +%s.%N)
    api POST "$base" "/api/admin/lists/$list/entries?type=pdq" "$tok" --data-binary "@$OUT/list.txt" \
        -H 'content-type: text/plain' >/dev/null
    t1=$(date +%s.%N)
    echo "upload of $N entries: $(python3 -c "print(round($t1-$t0,1))") s" >&2
    org=$(api POST "$base" "/api/admin/tenants/$tenant/organisations" "$tok" \
        -H 'content-type: application/json' -d '{"name":"bench-org"}' | jq_ 'd["id"]')
    api POST "$base" "/api/admin/organisations/$org/keys" "$tok" -H 'content-type: application/json' \
        -d '{"label":"bench"}' | jq_ 'd["token"]'
}

wait_entries() { # every base in "$@" has loaded the list
    for b in "$@"; do
        for _ in $(seq 1 300); do
            e=$(entries_of "$b" || true)
            python3 -c "import sys; sys.exit(0 if float('${e:-0}') >= $N else 1)" && break
            sleep 0.5
        done
        echo "  $b: $(entries_of "$b") entries loaded"
    done
}

run_load() { # name bases token
    local name=$1 bases=$2 tok=$3
    "$EX/hashcheck_load" --base "$bases" --token "$tok" --mode batch --concurrency 2 --batch-size 100 \
        --duration 2 >/dev/null
    echo "   load before: $(load)"
    "$EX/hashcheck_load" --base "$bases" --token "$tok" --mode batch --concurrency "$CONCURRENCY" \
        --batch-size "$BATCH" --duration "$DURATION" --known-file "$OUT/known.txt" --known-every 1000 \
        | tee "$OUT/$name-batch.json"
    "$EX/hashcheck_load" --base "$bases" --token "$tok" --mode single --rate "$RATE" \
        --duration "$DURATION" --known-file "$OUT/known.txt" --known-every 1000 | tee "$OUT/$name-single.json"
    echo "   load after: $(load)"
    load >"$OUT/$name-load.txt"
}

echo "== 1a. hash checks: one node on SQLite"
start_node sqlite --data "$OUT/sqlite"
SQ=$NODE_PID; SQ_BASE=$NODE_BASE
KEY=$(setup_hashcheck "$SQ_BASE" "$(token_of sqlite)")
wait_entries "$SQ_BASE"
run_load sqlite "$SQ_BASE" "$KEY"
stop "$SQ"

echo "== 1b. hash checks: two --role api nodes on PostgreSQL (schema $S_HASH)"
psql -q "$PGURL" -c "CREATE SCHEMA $S_HASH"
DB=$(with_schema "$PGURL" "$S_HASH")
start_node pg-api1 --data "$OUT/pg-api1" --database "$DB" --role api
A1=$NODE_PID; A1_BASE=$NODE_BASE
start_node pg-api2 --data "$OUT/pg-api2" --database "$DB" --role api
A2=$NODE_PID; A2_BASE=$NODE_BASE
TOK=$(token_of pg-api1)
[[ -n "$TOK" ]] || TOK=$(token_of pg-api2)
KEY=$(setup_hashcheck "$A1_BASE" "$TOK")
# The second node learns the list by polling; a first request per node builds its matcher.
"$EX/hashcheck_load" --base "$A1_BASE,$A2_BASE" --token "$KEY" --mode batch --concurrency 2 \
    --batch-size 10 --duration 1 >/dev/null
wait_entries "$A1_BASE" "$A2_BASE"
run_load pg "$A1_BASE,$A2_BASE" "$KEY"
stop "$A1"; stop "$A2"

echo "== 2. check-online: $URLS cases, ${SECS}s window"
/usr/bin/time -v -o "$OUT/site.time" "$EX/checkonline_bench" site --port "$PORT" --secs 3600 \
    2>"$OUT/site.log" &
PIDS+=($!)
sleep 1
cat >"$OUT/check.toml" <<EOF
log_format = "json"
[jobs]
interval_ms = 200
[fetch]
allow_addresses = ["127.0.0.1/32"]
timeout_secs = 10
[reports]
vault_keys = ["k1:$(python3 -c 'print("ab"*32)')"]
[takedown]
check_concurrency = 32
check_batch = 2000
reattribute_every = 0
[takedown.attribution]
rdap = false
EOF

# Runs the window against the nodes in "$@" (pids); $1 is "sqlite" or "pg", then pids.
# Whenever no case is due, all are made due again.
check_window() {
    local kind=$1; shift
    local sql_reset sql_count
    sql_reset="UPDATE takedown_cases SET next_check_at = '2000-01-01T00:00:00.000000Z'"
    sql_count="SELECT count(*) FROM observations"
    if [[ $kind == sqlite ]]; then
        q() { sqlite3 -cmd '.timeout 10000' "$OUT/check-sqlite/schoon.db" "$1"; }
    else
        q() { psql -qtA "$CDB" -c "$1"; }
    fi
    # Wait for the first observation (nodes started, first round running).
    for _ in $(seq 1 600); do [[ $(q "$sql_count") -gt 0 ]] && break; sleep 0.1; done
    local c0 t0 cpu0=0 cpu1=0 sweeps=0
    for p in "$@"; do cpu0=$((cpu0 + $(cpu_of "$p"))); done
    c0=$(q "$sql_count"); t0=$(date +%s.%N)
    echo "   load before: $(load)"
    local end=$(( $(date +%s) + SECS ))
    while [[ $(date +%s) -lt $end ]]; do
        due=$(q "SELECT count(*) FROM takedown_cases WHERE next_check_at <= '$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)'")
        if [[ $due -eq 0 ]]; then q "$sql_reset" >/dev/null; sweeps=$((sweeps + 1)); fi
        sleep 0.5
    done
    local c1 t1
    c1=$(q "$sql_count"); t1=$(date +%s.%N)
    for p in "$@"; do cpu1=$((cpu1 + $(cpu_of "$p"))); done
    echo "   load after: $(load)"
    python3 - "$kind" "$c0" "$c1" "$t0" "$t1" "$cpu0" "$cpu1" "$sweeps" "$(load)" >"$OUT/check-$kind.json" <<'PY'
import json, sys
kind, c0, c1, t0, t1, cpu0, cpu1, sweeps, load = sys.argv[1:]
n, secs = int(c1) - int(c0), float(t1) - float(t0)
print(json.dumps({"kind": kind, "checks": n, "window_s": round(secs, 1),
                  "rechecks_per_hour": round(n / secs * 3600), "node_cpu_s": (int(cpu1) - int(cpu0)) / 100,
                  "resets": int(sweeps), "load_after": load}))
PY
    cat "$OUT/check-$kind.json"
}

echo "-- 2a. one node (role all) on SQLite"
mkdir -p "$OUT/check-sqlite"
"$EX/scale_seed" --database "$OUT/check-sqlite/schoon.db" --urls "$URLS" --site-port "$PORT" \
    | tee "$OUT/seed-sqlite.json"
start_node check-sqlite --data "$OUT/check-sqlite" --config "$OUT/check.toml"
N1=$NODE_PID
check_window sqlite "$N1"
stop "$N1"

echo "-- 2b. three --role worker nodes on PostgreSQL (schema $S_CHECK)"
psql -q "$PGURL" -c "CREATE SCHEMA $S_CHECK"
CDB=$(with_schema "$PGURL" "$S_CHECK")
"$EX/scale_seed" --database "$CDB" --urls "$URLS" --site-port "$PORT" | tee "$OUT/seed-pg.json"
WP=()
for i in 1 2 3; do
    start_node "check-w$i" --data "$OUT/check-w$i" --config "$OUT/check.toml" --database "$CDB" --role worker
    WP+=("$NODE_PID")
done
check_window pg "${WP[@]}"
for p in "${WP[@]}"; do stop "$p"; done

python3 - "$OUT" "$N" "$URLS" <<'PY'
import json, sys, os, datetime
out, n, urls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rd = lambda f: json.loads(open(f"{out}/{f}").read().strip().splitlines()[-1])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
res = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "cpu": cpu, "cores": os.cpu_count(), "list_entries": n, "check_cases": urls,
    "hash_sqlite": {"batch": rd("sqlite-batch.json"), "single": rd("sqlite-single.json"),
                    "load": open(f"{out}/sqlite-load.txt").read().strip()},
    "hash_pg_2api": {"batch": rd("pg-batch.json"), "single": rd("pg-single.json"),
                     "load": open(f"{out}/pg-load.txt").read().strip()},
    "check_sqlite_1node": rd("check-sqlite.json"),
    "check_pg_3workers": rd("check-pg.json"),
}
res["ratio_hash_batch_pg_over_sqlite"] = round(
    res["hash_pg_2api"]["batch"]["checks_per_s"] / res["hash_sqlite"]["batch"]["checks_per_s"], 2)
res["ratio_check_pg3_over_sqlite1"] = round(
    res["check_pg_3workers"]["rechecks_per_hour"] / max(1, res["check_sqlite_1node"]["rechecks_per_hour"]), 2)
json.dump(res, open(f"{out}/results.json", "w"), indent=2)
print(json.dumps(res, indent=2))
PY
echo "machine: $(date -u +%Y-%m-%d) · $(lscpu | sed -n 's/^Model name: *//p' | head -1) · $(nproc) cores"
echo "output: $OUT"
