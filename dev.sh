#!/usr/bin/env bash
# scaleperf's two entry points; each sets up its own environment first (idempotent, fast the second time).
#
#   ./dev.sh suite [pytest options]   the perf suite on the local miniature (all four configurations, quick profile)
#   ./dev.sh test  [pytest options]   the project's tests
#
# Set PYTHON to choose the interpreter (default: python3; 3.11 or newer).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.scaleperf-installed

die() { echo "dev.sh: $*" >&2; exit 2; }

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; install Python 3.11 or newer, or set PYTHON=/path/to/python3.11"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "scaleperf needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -c 'import platform; print(platform.python_version())'). Set PYTHON=/path/to/python3.11"

want=$(cat pyproject.toml | "$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "dev.sh: setting up $VENV (first run, or pyproject.toml changed) ..." >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" || die "could not create $VENV (on Debian: apt-get install python3-venv)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[dev]'
  echo "$want" > "$STAMP"
fi

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  suite) exec "$VENV/bin/pytest" -m perf "$@" ;;
  test)  exec "$VENV/bin/pytest" "$@" ;;
  *) die "usage: ./dev.sh suite|test [pytest options]" ;;
esac
