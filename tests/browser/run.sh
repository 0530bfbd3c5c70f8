#!/usr/bin/env bash
# /docs in a real browser (issue #16): installs Debian's chromium if missing, starts `updog serve` on a
# fresh embedded database seeded with the demo fund, and drives Swagger UI with docs.mjs (puppeteer-core:
# no downloaded browser). Usage: run.sh <path to the updog binary>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
if ! command -v chromium >/dev/null; then
  echo "installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
chromium --version
(cd "$here" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
work="$(mktemp -d)"
port=$((19000 + $$ % 90))
cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$work" && "$binary" demo >/dev/null 2>&1 && "$binary" keys create --role admin 2>/dev/null > key)
(cd "$work" && UPDOG_BIND="127.0.0.1:$port" exec "$binary" serve > server.log 2>&1) &
pid=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
timeout 180 node "$here/docs.mjs" "http://127.0.0.1:$port" "$(cat "$work/key")" "$(command -v chromium)"
