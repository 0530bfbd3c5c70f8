#!/usr/bin/env bash
# GET /api/v1/funds/{id}/returns on the MOIC benchmark's fund (1,000 companies, 10,000 lots, 1,000
# distributions; `seed_moic.sql`) with ten years of fees (2 %, then 1.5 % on net invested capital), 20 %
# carry over an 8 % hurdle, valued on 2030-01-01 — against the same fund's /moic, both right after a
# write, alternated in one run (issue #23: p99 ≤ 2×). Also /returns on the unchanged fund, the ledger's
# size, and the server's peak RSS. Release build, PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${BENCH_PORT:-18091}
DB=updog_bench_returns
ROUNDS=${BENCH_ROUNDS:-200}

cargo build --release -q -p api
bin=target/release/updog

psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL="$PG/$DB" UPDOG_MIGRATE_ON_START=true UPDOG_BIND="127.0.0.1:$PORT" RUST_LOG=warn
key=$("$bin" keys create --role admin --name bench 2>/dev/null)
psql "$DATABASE_URL" -q -v lots="${BENCH_LOTS:-10000}" -f bench/seed_moic.sql
psql "$DATABASE_URL" -qc "UPDATE funds SET management_fee_bps = 200, post_period_fee_bps = 150, carry_bps = 2000,
                          hurdle_bps = 800, first_close_on = DATE '2020-01-01' WHERE id = 1"

"$bin" serve > /tmp/updog-bench-returns.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

probe() { local t0 t1; t0=$(date +%s%N); head -c 300000000 /dev/zero | sha256sum >/dev/null; t1=$(date +%s%N); echo "machine probe (SHA-256 of 300 MB): $(( (t1 - t0) / 1000000 )) ms"; }
probe
python3 - "$PORT" "$key" "$ROUNDS" <<'PY'
import json, sys, time
port, key, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, "bench")
from client import caller
base = f"http://127.0.0.1:{port}"
call = caller(base, key, parse=False)
fetch = caller(base, key)
AS_OF = "?as_of=2030-01-01"
returns = fetch("GET", "/api/v1/funds/1/returns" + AS_OF)[1]
ledger = fetch("GET", "/api/v1/funds/1/returns/ledger" + AS_OF)[1]
kinds = {}
for line in ledger["data"]:
    kinds[line["kind"]] = kinds.get(line["kind"], 0) + 1
print(f"ledger lines: {kinds}")
print(f"fees {returns['fees_cents'] / 100:,.2f}, paid-in {returns['paid_in_cents'] / 100:,.2f}, "
      f"TVPI {returns['tvpi']}, net IRR {returns['net_irr']}")

def p99(times):
    times = sorted(times)
    return times[int(len(times) * 0.99) - 1]

def timed(path):
    t = time.perf_counter()
    call("GET", path)
    return (time.perf_counter() - t) * 1000

after = {"moic": [], "returns": []}
n = 0
for i in range(rounds):
    # Each read follows its own write (a new fund state), alternating so both see the same machine.
    for what in ("moic", "returns"):
        n += 1
        call("POST", "/api/v1/funds/1/distributions",
             {"company_id": 1 + n % 1000, "distributed_on": "2025-01-01", "amount_cents": 100, "kind": "dividend"})
        after[what].append(timed(f"/api/v1/funds/1/{what}{AS_OF}"))
unchanged = [timed("/api/v1/funds/1/returns" + AS_OF) for _ in range(rounds * 5)]
m, r = p99(after["moic"]), p99(after["returns"])
print(f"p99 right after a write: /moic {m:.2f} ms, /returns {r:.2f} ms; ratio {r / m:.2f}x (target <= 2)")
print(f"/returns unchanged: p99 {p99(unchanged):.2f} ms, median {sorted(unchanged)[len(unchanged) // 2]:.2f} ms")
PY
probe
echo "peak RSS of the server: $(grep VmHWM /proc/$pid/status)"
