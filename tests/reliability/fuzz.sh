#!/usr/bin/env bash
# Schemathesis against the committed openapi.yaml (SPEC §17): a live `updog serve` on a fresh PostgreSQL
# database, an admin key, every check, 25 examples per operation, seeded; zero failures or it fails.
# Usage: fuzz.sh <path to the updog binary> [postgres server URL]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
binary="$1"
server="${2:-postgres://postgres@127.0.0.1:5432}"
database="updog_fuzz_$$"
port=$((18600 + $$ % 300))

psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"
log="$(mktemp)"
cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  rm -f "$log"
}
trap cleanup EXIT

export DATABASE_URL="$server/$database" UPDOG_MIGRATE_ON_START=true RUST_LOG=warn UPDOG_WORKERS=1
unset REDIS_URL
key="$("$binary" keys create --role admin 2>/dev/null)"
UPDOG_BIND="127.0.0.1:$port" "$binary" serve >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$log"; exit 1; }

# The console script pip installed, wherever this Python keeps its scripts (no shim needed).
schemathesis="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/schemathesis"
echo "schemathesis: all checks, 25 examples per operation, seed 1, against $DATABASE_URL"
"$schemathesis" --config-file "$here/schemathesis.toml" run "$root/openapi.yaml" \
  --url "http://127.0.0.1:$port" -H "Authorization: Bearer $key" \
  --checks all --max-examples 25 --seed 1 || { tail -50 "$log"; exit 1; }
