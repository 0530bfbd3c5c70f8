#!/usr/bin/env bash
# Issue #25's one run: one release server on PostgreSQL, its RSS sampled every 100 ms from start to end,
# through, in order:
#   1. 30 s of idempotent lot creation (16 connections, a new key per request) into a fund of its own,
#      then pgbench's one statement doing the same work for 30 s;            creation ≥ 0.5× (goal 0.8×)
#   2. /moic on the 10,000-lot seed fund: 8 concurrent first requests, 30 s unchanged (1 connection),
#      pgbench reading the fund's rows (1 client, 30 s), 200 × (write, then /moic);
#                                              unchanged p99 ≤ 0.2× the read; after a write ≤ 2×
#   3. three snapshot captures and calculations at 10,000 lots (after a warm-up one), each after a write;
#                                              capture (median) ≤ 7× the read p99; calculation < 150 ms
#   4. one capture and calculation at 100,000 lots (the second seed fund);
#   5. 32 concurrent first /moic on the 100,000-lot fund;  every answer 200, or 503 with Retry-After
# and prints every figure, its ratio and the peak RSS of each phase and of the whole run (< 200 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${BENCH_PORT:-18095}
DB=updog_bench_sequence
SECONDS_EACH=${BENCH_SECONDS:-30}
OUT=/tmp/updog-bench-sequence
mkdir -p "$OUT"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v pgbench >/dev/null || { apt-get update -qq && apt-get install -y -qq postgresql-contrib; }
cargo build --release -q -p api
bin=target/release/updog

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL="$PG/$DB" UPDOG_MIGRATE_ON_START=true UPDOG_BIND="127.0.0.1:$PORT" RUST_LOG=warn
key=$("$bin" keys create --role admin --name bench 2>/dev/null)
psql "$DATABASE_URL" -q -v lots=10000 -v fund=1 -f bench/seed_moic.sql >/dev/null
psql "$DATABASE_URL" -q -v lots=100000 -v fund=2 -f bench/seed_moic.sql >/dev/null
psql "$DATABASE_URL" -Atc "SELECT 'fund ' || fund_id || ': ' || count(*) || ' lots' FROM investment_lots GROUP BY fund_id ORDER BY 1"

"$bin" serve > "$OUT/server.log" 2>&1 &
pid=$!
echo startup > "$OUT/phase"
# The sampler: one line per 100 ms, the phase and the server's resident set (kB).
( while kill -0 "$pid" 2>/dev/null; do
    printf '%s %s\n' "$(cat "$OUT/phase")" "$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
    sleep 0.1
  done > "$OUT/rss.txt" ) &
sampler=$!
trap 'kill $pid $sampler 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
phase() { echo "$1" > "$OUT/phase"; echo "=== $1"; }
p99_ms() { awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 } print v }'; }
rate() { awk '/^Requests\/sec/ { print $2 }'; }
non2xx() { awk '/Non-2xx/ { print $5; found = 1 } END { if (!found) print 0 }'; }
base="http://127.0.0.1:$PORT/api/v1"
post() { curl -fs -X POST -H "Authorization: Bearer $key" -H "Content-Type: application/json" -d "$2" "$base$1"; }
id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# --- 1. creation
phase creation
fund=$(post /funds '{"name":"Creation","size_cents":100000000000,"vintage_year":2024,"reserve_ratio_bps":5000}' | id_of)
company=$(post "/funds/$fund/companies" '{"name":"Acme","stage":"seed"}' | id_of)
investment=$(post "/funds/$fund/investments" "{\"company_id\":$company,\"round_name\":\"Seed\",\"invested_on\":\"2024-01-15\"}" | id_of)
path="/api/v1/funds/$fund/investments/$investment/lots"
body='{"lot_type":"initial","share_price_cents":250000,"shares_acquired":"1000","acquired_on":"2024-01-15"}'
sample=$(post "/funds/$fund/investments/$investment/lots" "$body")
cat > "$OUT/create.lua" <<LUA
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
cat > "$OUT/create.sql" <<SQL
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
wrk -t2 -c16 -d3s -s "$OUT/create.lua" "http://127.0.0.1:$PORT" >/dev/null # warm-up
wrk -t2 -c16 -d"${SECONDS_EACH}s" --latency -s "$OUT/create.lua" "http://127.0.0.1:$PORT" > "$OUT/create.txt"
create_rate=$(rate < "$OUT/create.txt")
create_bad=$(non2xx < "$OUT/create.txt")
pg_create=$(pgbench -n -M prepared -c 16 -j 2 -T "$SECONDS_EACH" -f "$OUT/create.sql" "$DATABASE_URL" 2>/dev/null | awk '/^tps/ { print $3 }')
echo "creation ${create_rate} req/s (non-2xx ${create_bad}); one statement ${pg_create} tps"

# --- 2. /moic on 10,000 lots
phase moic
url="$base/funds/1/moic?as_of=2026-01-01"
seq 1 8 | xargs -P 8 -I{} curl -fs -o /dev/null -H "Authorization: Bearer $key" "$url"
wrk -t1 -c1 -d3s -H "Authorization: Bearer $key" "$url" >/dev/null
moic_p99=$(wrk -t1 -c1 -d"${SECONDS_EACH}s" --latency -H "Authorization: Bearer $key" "$url" | tee "$OUT/moic.txt" | p99_ms)
cat > "$OUT/read.sql" <<'SQL'
SELECT * FROM portfolio_companies WHERE fund_id = 1;
SELECT * FROM investment_lots WHERE fund_id = 1;
SELECT * FROM distributions WHERE fund_id = 1;
SELECT * FROM company_marks WHERE fund_id = 1;
SQL
rm -f "$OUT"/pgbench_log.*
(cd "$OUT" && pgbench -n -M prepared -c 1 -T "$SECONDS_EACH" -f read.sql -l --log-prefix=pgbench_log "$DATABASE_URL" >/dev/null 2>&1)
read_p99=$(cat "$OUT"/pgbench_log.* | awk '{ print $3 / 1000 }' | sort -n | awk '{ a[NR] = $1 } END { print a[int(NR * 0.99)] }')
# One kept-alive connection, as wrk's and pgbench's: the figure is the server's, not a new TCP
# connection's per request.
after_p99=$(python3 - "$PORT" "$key" <<'PY'
import http.client, json, sys, time
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
auth = {"Authorization": f"Bearer {sys.argv[2]}", "Content-Type": "application/json"}
def call(method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body else None, headers=auth)
    response = conn.getresponse()
    response.read()
    assert response.status < 300, (method, path, response.status)
times = []
for i in range(200):
    call("POST", "/api/v1/funds/1/distributions",
         {"company_id": 1 + i, "distributed_on": "2025-01-01", "amount_cents": 100, "kind": "dividend"})
    t = time.perf_counter()
    call("GET", "/api/v1/funds/1/moic?as_of=2026-01-01")
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"{times[int(len(times) * 0.99) - 1]:.2f}")
PY
)
echo "p99: /moic unchanged ${moic_p99} ms; right after a write ${after_p99} ms; PostgreSQL's read ${read_p99} ms"

# --- 3. and 4. snapshots
snapshots() { # fund, runs (the first a warm-up when more than one), label
  python3 - "$PORT" "$key" "$1" "$2" <<'PY'
import os, statistics, subprocess, sys, time
sys.path.insert(0, "bench")
from client import caller
port, key, fund, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
call = caller(f"http://127.0.0.1:{port}/api/v1", key)
posts, ids = [], []
for i in range(runs):
    call("POST", f"/funds/{fund}/distributions",
         {"company_id": (fund - 1) * 1000 + 1 + i, "distributed_on": "2025-02-01", "amount_cents": 100, "kind": "dividend"})
    t0 = time.perf_counter()
    status, snap = call("POST", f"/funds/{fund}/snapshots", {"name": f"sequence {fund} {i}"})
    posts.append((time.perf_counter() - t0) * 1000)
    assert status == 202, (status, snap)
    while True:  # as a front-end polls it
        _, s = call("GET", f"/snapshots/{snap['id']}")
        if s["status"] in ("complete", "error"):
            break
        time.sleep(0.05)
    assert s["status"] == "complete", s
    ids.append(snap["id"])
if runs > 1:
    posts, ids = posts[1:], ids[1:]
quoted = ",".join(f"'{i}'" for i in ids)
calc = [float(x) for x in subprocess.run(
    ["psql", "-At", os.environ["DATABASE_URL"], "-c",
     f"SELECT 1000 * EXTRACT(EPOCH FROM updated_at - created_at) FROM forecast_snapshots WHERE id IN ({quoted})"],
    check=True, capture_output=True, text=True).stdout.split()]
print(f"{statistics.median(posts):.1f} {statistics.median(calc):.1f} "
      f"captures {' '.join(f'{p:.1f}' for p in posts)} ms; calculations {' '.join(f'{c:.1f}' for c in calc)} ms")
PY
}
phase snapshots-10k
read -r capture10 calc10 detail10 < <(snapshots 1 4)
echo "10,000 lots: capture median ${capture10} ms, calculation median ${calc10} ms ($detail10)"
phase snapshot-100k
read -r capture100 calc100 detail100 < <(snapshots 2 1)
echo "100,000 lots: capture ${capture100} ms, calculation ${calc100} ms"

# --- 5. 32 concurrent first /moic on 100,000 lots
phase moic-100k-x32
seq 1 32 | xargs -P 32 -I{} curl -s -o /dev/null -D - -H "Authorization: Bearer $key" \
  "$base/funds/2/moic?as_of=2026-01-01" > "$OUT/x32.txt"
ok=$(grep -c '^HTTP/1.1 200' "$OUT/x32.txt" || true)
busy=$(grep -c '^HTTP/1.1 503' "$OUT/x32.txt" || true)
retry=$(grep -ci '^retry-after' "$OUT/x32.txt" || true)
echo "32 concurrent first /moic on 100,000 lots: $ok × 200, $busy × 503 ($retry with Retry-After)"
phase end
sleep 0.3
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")

echo "=== figures"
awk -v c="$create_rate" -v p="$pg_create" 'BEGIN { printf "creation ÷ one statement: %.2fx (floor 0.5, goal 0.8)\n", c / p }'
awk -v m="$moic_p99" -v a="$after_p99" -v r="$read_p99" 'BEGIN { printf "/moic unchanged ÷ read: %.2fx (≤ 0.2); after a write ÷ read: %.2fx (≤ 2)\n", m / r, a / r }'
awk -v s="$capture10" -v r="$read_p99" -v k="$calc10" 'BEGIN { printf "capture ÷ read: %.2fx (≤ 7); calculation %.1f ms (< 150)\n", s / r, k }'
echo "32 × first /moic at 100,000 lots: $ok × 200, $busy × 503 with $retry Retry-After"
python3 - "$OUT/rss.txt" "$hwm" <<'PY'
import sys
peaks, order = {}, []
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) != 2 or not parts[1].isdigit():
        continue
    phase, kb = parts[0], int(parts[1])
    if phase not in peaks:
        order.append(phase)
    peaks[phase] = max(peaks.get(phase, 0), kb)
for phase in order:
    print(f"peak RSS in {phase}: {peaks[phase] / 1024:.0f} MB")
print(f"peak RSS over the run: sampled {max(peaks.values()) / 1024:.0f} MB, VmHWM {int(sys.argv[2]) / 1024:.0f} MB (< 200 MB)")
PY
