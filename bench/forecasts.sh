#!/usr/bin/env bash
# A fund forecast (SPEC §6.7, issue #24) on the MOIC benchmark's fund grown to 1,200 companies (10,200
# lots, 1,000 distributions) with ten years of quarterly fees, 20 % carry over an 8 % hurdle, over a
# 10,000-scenario matrix of 12 buckets (the six stages, and six more that only deployed dry powder
# reaches). Timed on the server's clock, from the forecast's commit (created_at: the job is queued and
# the workers are rung at once) to its completion (updated_at), median of BENCH_RUNS runs, each with
# other exit years (new inputs, so no dedupe); and the peak RSS of the worker, a process of its own
# (`updog worker`, as in production), and of the server, which captures each forecast.
# Release build, PostgreSQL. Target: under 2 s, peak RSS under 200 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${BENCH_PORT:-18092}
DB=updog_bench_forecasts
RUNS=${BENCH_RUNS:-5}

cargo build --release -q -p api
bin=target/release/updog
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL="$PG/$DB" UPDOG_MIGRATE_ON_START=true UPDOG_BIND="127.0.0.1:$PORT" RUST_LOG=warn
key=$("$bin" keys create --role admin --name bench 2>/dev/null)
psql "$DATABASE_URL" -q -f bench/seed_moic.sql >/dev/null
psql "$DATABASE_URL" -q <<'SQL'
-- 200 more companies with a lot each, and the fund's terms.
INSERT INTO portfolio_companies (id, fund_id, name, stage, planned_reserves_cents)
SELECT c, 1, 'Company ' || c, (ARRAY['pre_seed','seed','series_a','series_b','series_c','growth'])[1 + c % 6], 100000
FROM generate_series(1001, 1200) AS c;
INSERT INTO investments (id, fund_id, company_id, round_name, invested_on)
SELECT c, 1, c, 'Round ' || c, DATE '2021-01-01' + (c % 700) FROM generate_series(1001, 1200) AS c;
INSERT INTO investment_lots (id, fund_id, investment_id, lot_type, share_price_cents, shares_acquired,
                             cost_basis_cents, acquired_on)
SELECT gen_random_uuid(), 1, c, 'initial', 150, 1000, 150000, DATE '2021-01-01' + (c % 700)
FROM generate_series(1001, 1200) AS c;
SELECT setval(pg_get_serial_sequence('portfolio_companies', 'id'), 1200);
SELECT setval(pg_get_serial_sequence('investments', 'id'), 1200);
UPDATE funds SET management_fee_bps = 200, post_period_fee_bps = 150, carry_bps = 2000, hurdle_bps = 800,
                 first_close_on = DATE '2020-01-01', size_cents = 90000000000 WHERE id = 1;
ANALYZE;
SQL
psql "$DATABASE_URL" -Atc "SELECT 'companies=' || count(*) FROM portfolio_companies" -c "SELECT 'lots=' || count(*) FROM investment_lots"

UPDOG_WORKERS=0 "$bin" serve > /tmp/updog-bench-forecasts.log 2>&1 &
pid=$!
"$bin" worker > /tmp/updog-bench-forecasts-worker.log 2>&1 &
worker=$!
trap 'kill $pid $worker 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

probe() { local t0 t1; t0=$(date +%s%N); head -c 300000000 /dev/zero | sha256sum >/dev/null; t1=$(date +%s%N); echo "machine probe (SHA-256 of 300 MB): $(( (t1 - t0) / 1000000 )) ms"; }
probe
python3 - "$PORT" "$key" "$RUNS" <<'PY'
import json, os, subprocess, sys, time
port, key, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, "bench")
from client import caller
call = caller(f"http://127.0.0.1:{port}", key)
stages = ["pre_seed", "seed", "series_a", "series_b", "series_c", "growth"]
buckets = stages + [f"thematic_{i}" for i in range(6)]
config = {
    "taxonomy_version": "bench", "num_scenarios": 10_000, "seed": 24,
    "buckets": [{"name": b, "capital_allocation_pct": "8.3333333333" if i < 11 else "8.3333333337",
                 "moic_median": str(1.2 + 0.1 * (i % 6)), "moic_p90": str(3.0 + 0.2 * (i % 6))}
                for i, b in enumerate(buckets)],
    "correlation_weights": {"macro": "0.3", "systematic": "0.3", "idiosyncratic": "0.4"},
}
status, matrix = call("POST", "/api/v1/funds/1/scenario-matrices", config)
assert status in (201, 202), (status, matrix)
# 10,000 × 12 is more than 100,000 cells: a worker generates it.
for _ in range(600):
    status, matrix = call("GET", f"/api/v1/scenario-matrices/{matrix['matrix_key']}")
    if matrix["status"] == "complete":
        break
    time.sleep(0.05)
assert matrix["status"] == "complete", matrix
weights = {b: "0.0833333333" for b in buckets[:-1]}
weights[buckets[-1]] = "0.0833333337"
for run in range(runs):
    body = {"matrix_key": matrix["matrix_key"], "as_of": "2025-06-30",
            "exit_after_years": {b: 3 + (i + run) % 5 for i, b in enumerate(buckets)},
            "deploy": {"amount_cents": 10_000_000_000, "weights": weights}}
    status, forecast = call("POST", "/api/v1/funds/1/forecasts", body)
    assert status == 202, (status, forecast)
    for _ in range(600):
        status, forecast = call("GET", f"/api/v1/forecasts/{forecast['id']}")
        if forecast["status"] in ("complete", "error"):
            break
        time.sleep(0.05)
    assert forecast["status"] == "complete", forecast
tvpi = forecast["results"]["net_tvpi"]
print(f"last run: net TVPI P10 {tvpi['p10']} P50 {tvpi['p50']} P90 {tvpi['p90']} over {forecast['results']['scenarios']} scenarios")
out = subprocess.run(["psql", "-At", os.environ["DATABASE_URL"], "-c",
                      "SELECT 1000 * EXTRACT(EPOCH FROM updated_at - created_at) FROM fund_forecasts "
                      "WHERE status = 'complete' ORDER BY created_at"], capture_output=True, text=True, check=True)
times = sorted(float(t) for t in out.stdout.split())
print(f"forecast, commit to complete (server clock), {len(times)} runs: median {times[len(times) // 2]:.0f} ms, "
      f"min {times[0]:.0f} ms, max {times[-1]:.0f} ms (target < 2000 ms)")
PY
probe
echo "peak RSS of the worker (matrix generation and five forecasts): $(grep VmHWM /proc/$worker/status)"
echo "peak RSS of the server (five captures): $(grep VmHWM /proc/$pid/status)"
