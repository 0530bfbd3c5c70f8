#!/usr/bin/env bash
# The clients front-end teams and analysts generate from the committed openapi.yaml (issue #16):
#   - Python: openapi-python-client generates a client (no warnings allowed), and examples/analyst.py
#     runs against a live server on a fresh embedded database, printing MOIC and the reserve ranking;
#   - TypeScript: openapi-typescript generates the types, and examples/frontend/frontend.ts type-checks.
# Usage: run.sh <path to the updog binary>
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
work="$(mktemp -d)"
port=$((18900 + $$ % 90))
cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "--- Python client (openapi-python-client)"
python3 -m pip install -q --disable-pip-version-check 'openapi-python-client==0.26.2' 'matplotlib==3.10.7'
generator="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/openapi-python-client"
out=$("$generator" generate --path "$root/openapi.yaml" --meta none --output-path "$work/updog_client" 2>&1)
echo "$out"
if printf '%s\n' "$out" | grep -qi 'warning'; then
  echo "the generator warned about openapi.yaml" >&2
  exit 1
fi
(cd "$work" && key=$("$binary" keys create --role admin 2>/dev/null) && echo "$key" > key)
(cd "$work" && UPDOG_BIND="127.0.0.1:$port" exec "$binary" serve > server.log 2>&1) &
pid=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
report=$(PYTHONPATH="$work" python3 "$root/examples/analyst.py" --base "http://127.0.0.1:$port" --key "$(cat "$work/key")" --png "$work/forecast.png")
echo "$report"
for expected in "snapshot .*: complete" "fund 1: invested 5,400,000.00" "Atlas Bio .*current MOIC 2.400000" "1. Atlas Bio" \
                "forecast .*: complete" "net TVPI over 5000 scenarios: P10 [0-9.]* *P50 [0-9.]* *P90 [0-9.]*"; do
  printf '%s\n' "$report" | grep -q "$expected" || { echo "missing: $expected" >&2; cat "$work/server.log" >&2; exit 1; }
done
# The figure is a real PNG of some size (its signature, and more than a blank canvas).
head -c 8 "$work/forecast.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || { echo "forecast.png is not a PNG" >&2; exit 1; }
[ "$(stat -c %s "$work/forecast.png")" -gt 20000 ] || { echo "forecast.png is too small to hold the figure" >&2; exit 1; }

echo "--- TypeScript types (openapi-typescript) and the typed example"
cd "$root/examples/frontend"
npm ci --no-audit --no-fund --loglevel=error
generated=$(npm run --silent generate 2>&1)
echo "$generated"
if printf '%s\n' "$generated" | grep -qiE 'warn|⚠'; then
  echo "openapi-typescript warned about openapi.yaml" >&2
  exit 1
fi
npm run --silent check
echo "examples/frontend/frontend.ts type-checks against the generated types"
