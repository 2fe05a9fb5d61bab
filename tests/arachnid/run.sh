#!/usr/bin/env bash
# Proof of Arachnid Shield compatibility: drives the *official* Python SDK (PyPI
# `arachnid-shield-sdk`) against a real `schoon serve` on a random loopback port with a fresh
# data directory. Only the base URL changes (ARACHNID_SHIELD_URL), as for a provider switching.
#
# The "known" material is the hash of a benign test photo placed on a test list.
#
# Environment: SCHOON_BIN (default: target/debug/schoon, built if missing),
#              SCHOON_SHARED (default: <repo>/../shared).
# Exit status 0 when every check passes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SCHOON_SHARED:-$ROOT/../shared}
DATA_DIR_IMAGES=$SHARED/testdata/pdq/data
if [[ -z "${SCHOON_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build -q -p schoon)
    SCHOON_BIN=$ROOT/target/debug/schoon
fi
[[ -x "$SCHOON_BIN" ]] || { echo "schoon binary not found at $SCHOON_BIN" >&2; exit 2; }
[[ -f "$DATA_DIR_IMAGES/bridge-mods/aaa-orig.jpg" ]] || { echo "test images not found under $DATA_DIR_IMAGES" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/schoon-arachnid.XXXXXX")
SERVER_PID=""
WEB_PID=""
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
    [[ -n "$WEB_PID" ]] && kill "$WEB_PID" 2>/dev/null && wait "$WEB_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== venv with the official SDK"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check arachnid-shield-sdk
"$WORK/venv/bin/pip" show arachnid-shield-sdk | grep -E '^(Name|Version):'

echo "== tenant, organisation, key and a test list (schoon admin on a fresh data dir)"
DATA=$WORK/data
admin() { "$SCHOON_BIN" admin --data "$DATA" "$@"; }
jget() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }
TENANT=$(admin tenant create shield-test | jget id)
ORG=$(admin org create --tenant "$TENANT" "Test hoster" | jget id)
KEY_JSON=$(admin key create --org "$ORG" --label "shield sdk test")
KEY_ID=$(echo "$KEY_JSON" | jget key_id)
KEY_SECRET=$(echo "$KEY_JSON" | jget secret)
LIST=$(admin list create --tenant "$TENANT" --kind known shield-known | jget id)
HASHES=$("$SCHOON_BIN" hash --format json "$DATA_DIR_IMAGES/bridge-mods/aaa-orig.jpg" 2>/dev/null | head -1)
PDQ=$(echo "$HASHES" | jget pdq)
SHA256=$(echo "$HASHES" | jget sha256)
printf 'signal_type,signal,category,source\npdq,%s,baseline,benign-test-image\nsha256,%s,baseline,benign-test-image\n' \
    "$PDQ" "$SHA256" > "$WORK/list.csv"
admin list upload "$LIST" "$WORK/list.csv"

echo "== loopback web server with the test images"
WEB_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
python3 -m http.server "$WEB_PORT" --bind 127.0.0.1 --directory "$DATA_DIR_IMAGES" >"$WORK/web.log" 2>&1 &
WEB_PID=$!

echo "== schoon serve on a random loopback port (fetcher: 127.0.0.1 allowed by test-only config)"
SCHOON_FETCH__ALLOW_ADDRESSES='["127.0.0.1/32"]' SCHOON_LOG_FORMAT=json \
    "$SCHOON_BIN" serve --data "$DATA" --listen 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    grep -q 'listening on' "$WORK/serve.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/serve.log" >&2; echo "schoon serve exited" >&2; exit 1; }
    sleep 0.1
done
BASE=$(sed -n 's/^schoon: listening on \(http:[^ ]*\)$/\1/p' "$WORK/serve.out" | head -1)
[[ -n "$BASE" ]] || { cat "$WORK/serve.log" >&2; echo "schoon serve did not start" >&2; exit 1; }
for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$WEB_PORT/bridge-mods/aaa-orig.jpg" -o /dev/null 2>/dev/null && break
    sleep 0.1
done
echo "schoon at $BASE, images at http://127.0.0.1:$WEB_PORT/"

echo "== official SDK scans"
status=0
ARACHNID_SHIELD_URL="$BASE/" SHIELD_USER="$KEY_ID" SHIELD_PASS="$KEY_SECRET" \
    WEB="http://127.0.0.1:$WEB_PORT" IMAGES="$DATA_DIR_IMAGES" PDQ="$PDQ" \
    "$WORK/venv/bin/python" "$(dirname "$0")/shield_sdk_test.py" || status=$?

echo "== hits recorded by schoon"
HITS=$(admin hits --tenant "$TENANT" | wc -l)
echo "hits: $HITS"
if [[ "$HITS" -lt 4 ]]; then
    echo "expected at least 4 hits (pdq, media exact, media near, url)" >&2
    status=1
fi
if grep -q "$KEY_SECRET" "$WORK/serve.log"; then
    echo "the key secret appears in the server log" >&2
    status=1
fi
if [[ $status -ne 0 ]]; then
    echo "--- server log (tail)" >&2
    tail -n 30 "$WORK/serve.log" >&2
fi
exit $status
