# Shared helpers for the bench scripts: a Python venv under bench/.venv and a release build of schoon.
# Source it; it sets ROOT, VENV_PY and SCHOON.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/bench/.venv"

bench_venv() {
    # Packages are pinned so reference numbers stay comparable between runs.
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install --quiet "$@"
    VENV_PY="$VENV/bin/python"
}

bench_build() {
    (cd "$ROOT" && cargo build --release --locked -p schoon --quiet)
    SCHOON="$ROOT/target/release/schoon"
}

machine_line() {
    echo "$(date -u +%Y-%m-%d) · $(lscpu | sed -n 's/^Model name: *//p' | head -1) · $(nproc) cores · $(free -g | awk '/Mem:/{print $2}') GiB"
}
