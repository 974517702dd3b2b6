#!/usr/bin/env bash
# Runs the JS client tests, the chat example's tests and the browser
# end-to-end test against the built daemon.
#   tests/js/run.sh                      uses build/socketshark
#   SOCKETSHARK_BINARY=/path tests/js/run.sh
# Needs: nodejs >= 20 with npm, chromium, redis-server, and /usr/bin/python3
# with python3-aiohttp and python3-redis (Debian packages).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

binary="${SOCKETSHARK_BINARY:-$repo/build/socketshark}"
missing=()
[[ -x "$binary" ]] || missing+=("the daemon at $binary (build it first)")
[[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]] || missing+=("chromium (apt-get install chromium)")
command -v redis-server >/dev/null || missing+=("redis-server (apt-get install redis-server)")
/usr/bin/python3 -c 'import aiohttp, redis' 2>/dev/null || missing+=("python3-aiohttp and python3-redis")
command -v npm >/dev/null || missing+=("npm")
if ((${#missing[@]})); then
  printf 'tests/js: missing %s\n' "${missing[@]}" >&2
  exit 1
fi

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
cd "$repo"
export SOCKETSHARK_BINARY="$binary"
# Every wait inside the tests is bounded; the timeout is a last resort.
# Node 20.11+ bounds each test; Debian's Node 18 lacks the flag.
timeout_flag=()
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=11)?0:1)' \
  && timeout_flag=(--test-timeout=120000)
exec node --test "${timeout_flag[@]}" tests/js/
