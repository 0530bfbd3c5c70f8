#!/usr/bin/env bash
# GET /api/v1/funds/{id}/moic on a fund of 1,000 companies and 10,000 lots, against PostgreSQL, with the
# release build. Target (SPEC §16): p99 under 50 ms. Prints wrk's latency distribution and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${BENCH_PORT:-18090}
DB=updog_bench_moic
DURATION=${BENCH_DURATION:-60s}
CONNECTIONS=${BENCH_CONNECTIONS:-8}

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p api
bin=target/release/updog

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL="$PG/$DB" UPDOG_MIGRATE_ON_START=true UPDOG_BIND="127.0.0.1:$PORT" RUST_LOG=warn
key=$("$bin" keys create --role admin --name bench 2>/dev/null)
psql "$DATABASE_URL" -q -f bench/seed_moic.sql
psql "$DATABASE_URL" -Atc "SELECT 'companies=' || count(*) FROM portfolio_companies" -c "SELECT 'lots=' || count(*) FROM investment_lots"

"$bin" serve > /tmp/updog-bench.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

# The machine's speed drifts (shared host): a fixed CPU task timed before and after the load makes a
# slow run recognisable as such.
probe() { local t0 t1; t0=$(date +%s%N); head -c 300000000 /dev/zero | sha256sum >/dev/null; t1=$(date +%s%N); echo "machine probe (SHA-256 of 300 MB): $(( (t1 - t0) / 1000000 )) ms"; }

url="http://127.0.0.1:$PORT/api/v1/funds/1/moic?as_of=2026-01-01"
bytes=$(curl -fs -H "Authorization: Bearer $key" "$url" | wc -c)
echo "response size: $bytes bytes"
# Warm up, then measure.
wrk -t2 -c2 -d3s -H "Authorization: Bearer $key" "$url" >/dev/null
probe
echo "--- 1 connection (latency of one request at a time)"
wrk -t1 -c1 -d"$DURATION" --latency -H "Authorization: Bearer $key" "$url"
echo "--- $CONNECTIONS connections"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $key" "$url"
echo "peak RSS of the server: $(grep VmHWM /proc/$pid/status)"
probe
