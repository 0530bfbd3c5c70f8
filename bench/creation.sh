#!/usr/bin/env bash
# Idempotent lot creation over HTTP (16 connections, every request a new Idempotency-Key) against
# pgbench (16 clients, prepared) running the least SQL that does the same work — the lot and its
# idempotency record written by one statement (a CTE) — on the same server in the same run; then the
# replay of one recorded key. SPEC §16: creation ≥ 0.5× the one statement (0.8× goal), zero non-2xx;
# replay ≥ 2× creation. Prints both rates, the ratios and the server's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${BENCH_PORT:-18091}
DB=updog_bench_create
DURATION=${BENCH_DURATION:-20s}
CONNECTIONS=${BENCH_CONNECTIONS:-16}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v pgbench >/dev/null || { apt-get update -qq && apt-get install -y -qq postgresql-contrib; }
cargo build --release -q -p api
bin=target/release/updog

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL="$PG/$DB" UPDOG_MIGRATE_ON_START=true UPDOG_BIND="127.0.0.1:$PORT" RUST_LOG=warn
key=$("$bin" keys create --role admin --name bench 2>/dev/null)
"$bin" serve > /tmp/updog-bench-create.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

base="http://127.0.0.1:$PORT/api/v1"
post() { curl -fs -X POST -H "Authorization: Bearer $key" -H "Content-Type: application/json" -d "$2" "$base$1"; }
fund=$(post /funds '{"name":"Bench","size_cents":100000000000,"vintage_year":2024,"management_fee_bps":200,"carry_bps":2000,"reserve_ratio_bps":5000,"base_currency":"USD"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
company=$(post "/funds/$fund/companies" '{"name":"Acme","stage":"seed"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
investment=$(post "/funds/$fund/investments" "{\"company_id\":$company,\"round_name\":\"Seed\",\"invested_on\":\"2024-01-15\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
path="/api/v1/funds/$fund/investments/$investment/lots"
body='{"lot_type":"initial","share_price_cents":250000,"shares_acquired":"1000","acquired_on":"2024-01-15"}'
sample=$(post "/funds/$fund/investments/$investment/lots" "$body")
echo "one response: ${#sample} bytes"

# Every request a new key: thread number, connection-independent counter.
cat > /tmp/updog-bench-create.lua <<LUA
local n = 0
local tid = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  tid = wrk.thread:get("tid")
end
function request()
  n = n + 1
  return wrk.format("POST", "$path", {
    ["Authorization"] = "Bearer $key",
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. tid .. "-" .. n,
  }, '$body')
end
LUA
cat > /tmp/updog-bench-replay.lua <<LUA
function request()
  return wrk.format("POST", "$path", {
    ["Authorization"] = "Bearer $key",
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-replay",
  }, '$body')
end
LUA

# The least SQL for the same work: the lot and its record (a body of the server's size) in one statement.
cat > /tmp/updog-bench-create.sql <<SQL
\set r random(1, 9223372036854775807)
WITH lot AS (
  INSERT INTO investment_lots (id, fund_id, investment_id, lot_type, share_price_cents, shares_acquired,
    cost_basis_cents, acquired_on, idempotency_key, request_fingerprint, created_at)
  VALUES (gen_random_uuid(), $fund, $investment, 'initial', 250000, 1000, 250000000, '2024-01-15',
    'pg-' || :client_id || '-' || :r, repeat('f', 64), now())
  RETURNING idempotency_key)
INSERT INTO idempotency_records (id, scope, idempotency_key, fingerprint, principal_id, status_code,
  response_body, location, expires_at, created_at)
SELECT gen_random_uuid(), 'POST $path', idempotency_key, repeat('f', 64), NULL, 201,
  convert_to(repeat('x', ${#sample}), 'UTF8'), '/api/v1/funds/$fund/lots/0', now() + interval '7 days', now()
FROM lot;
SQL

rate() { awk '/^Requests\/sec/ { print $2 }'; }
non2xx() { awk '/Non-2xx/ { print $5; found = 1 } END { if (!found) print 0 }'; }
wrk -t2 -c"$CONNECTIONS" -d3s -s /tmp/updog-bench-create.lua "http://127.0.0.1:$PORT" >/dev/null # warm-up
echo "--- HTTP: idempotent lot creation, $CONNECTIONS connections, $DURATION"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s /tmp/updog-bench-create.lua "http://127.0.0.1:$PORT" | tee /tmp/updog-bench-create.txt
http_rate=$(rate < /tmp/updog-bench-create.txt)
http_bad=$(non2xx < /tmp/updog-bench-create.txt)
echo "--- pgbench: the one statement, $CONNECTIONS clients, prepared, $DURATION"
pg_rate=$(pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -T "${DURATION%s}" -f /tmp/updog-bench-create.sql "$DATABASE_URL" | tee /dev/stderr | awk '/^tps/ { print $3 }')
echo "--- HTTP: replay of one recorded key, $CONNECTIONS connections, $DURATION"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s /tmp/updog-bench-replay.lua "http://127.0.0.1:$PORT" | tee /tmp/updog-bench-replay.txt
replay_rate=$(rate < /tmp/updog-bench-replay.txt)
replay_bad=$(non2xx < /tmp/updog-bench-replay.txt)
echo "lots written by HTTP: $(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM investment_lots WHERE idempotency_key LIKE 'bench-%'"), records: $(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM idempotency_records WHERE idempotency_key LIKE 'bench-%'")"
echo "creation ${http_rate} req/s (non-2xx: ${http_bad}); one statement ${pg_rate} tps; replay ${replay_rate} req/s (non-2xx: ${replay_bad})"
awk -v h="$http_rate" -v p="$pg_rate" -v r="$replay_rate" 'BEGIN { printf "ratios: creation / one statement %.2fx (floor 0.5, goal 0.8); replay / creation %.2fx (target >= 2)\n", h / p, r / h }'
echo "peak RSS of the server: $(grep VmHWM /proc/$pid/status)"
