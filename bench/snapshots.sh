#!/usr/bin/env bash
# Snapshot capture (the POST) and calculation (the worker, POST → complete) on a fund of 1,000 companies
# and 10,000 lots, then 100,000 lots, with the release build against PostgreSQL. SPEC §16: each under
# 200 ms at 10,000 lots, growing no worse than linearly to 100,000. Each capture follows a write (a
# distribution), so that every POST captures a new state. Prints the medians, the growth ratios and the
# server's peak RSS for each size.
set -euo pipefail
cd "$(dirname "$0")/.."
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${BENCH_PORT:-18093}
DB=updog_bench_snapshots
RUNS=${BENCH_RUNS:-7}
SIZES=${BENCH_SIZES:-10000 100000}

cargo build --release -q -p api
bin=target/release/updog

measure() {
  local lots=$1
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  export DATABASE_URL="$PG/$DB" UPDOG_MIGRATE_ON_START=true UPDOG_BIND="127.0.0.1:$PORT" RUST_LOG=warn
  local key
  key=$("$bin" keys create --role admin --name bench 2>/dev/null)
  psql "$DATABASE_URL" -q -v lots="$lots" -f bench/seed_moic.sql >/dev/null
  "$bin" serve > /tmp/updog-bench-snapshots.log 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
  python3 - "$PORT" "$key" "$lots" "$RUNS" <<'PY'
import json, os, statistics, sys, time, urllib.request
port, key, lots, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = f"http://127.0.0.1:{port}/api/v1"
sys.path.insert(0, "bench")
from client import caller
call = caller(base, key)
posts, completes = [], []
for i in range(runs + 1):
    call("POST", "/funds/1/distributions",
         {"company_id": 1 + i, "distributed_on": "2025-01-01", "amount_cents": 100, "kind": "dividend"})
    t0 = time.perf_counter()
    status, snap = call("POST", "/funds/1/snapshots", {"name": f"bench {i}"})
    t1 = time.perf_counter()
    assert status == 202, status
    while True:
        _, s = call("GET", f"/snapshots/{snap['id']}")
        if s["status"] in ("complete", "error"):
            break
        time.sleep(0.02)
    t2 = time.perf_counter()
    assert s["status"] == "complete", s
    if i > 0:  # the first is a warm-up
        posts.append((t1 - t0) * 1000)
        completes.append((t2 - t1) * 1000)
# The calculation as the server saw it: from the capture's commit (the snapshot's created_at) to the
# completion's (its updated_at), without the client's polling and its final GET of megabytes of metrics.
import subprocess
server = [float(x) for x in subprocess.run(
    ["psql", "-At", os.environ["DATABASE_URL"], "-c",
     "SELECT 1000 * EXTRACT(EPOCH FROM updated_at - created_at) FROM forecast_snapshots "
     "WHERE status = 'complete' ORDER BY created_at OFFSET 1"],
    check=True, capture_output=True, text=True).stdout.split()]
print(f"lots={lots} calculation (captured → complete, server clock) median {statistics.median(server):.1f} ms "
      f"(min {min(server):.1f}, max {max(server):.1f})")
print(f"lots={lots} capture (POST) median {statistics.median(posts):.1f} ms (min {min(posts):.1f}, max {max(posts):.1f}); "
      f"calculation (POST answered → complete) median {statistics.median(completes):.1f} ms (min {min(completes):.1f}, max {max(completes):.1f})")
PY
  echo "lots=$lots peak RSS of the server: $(grep VmHWM /proc/$pid/status)"
  kill $pid; wait $pid 2>/dev/null || true
}

for size in $SIZES; do measure "$size"; done | tee /tmp/updog-bench-snapshots.txt
python3 - <<'PY'
import re
rows = {}
for line in open("/tmp/updog-bench-snapshots.txt"):
    m = re.match(r"lots=(\d+) capture \(POST\) median ([\d.]+) ms .*calculation .* median ([\d.]+) ms", line)
    if m:
        rows[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
sizes = sorted(rows)
if len(sizes) >= 2:
    a, b = sizes[0], sizes[-1]
    print(f"growth {a} → {b} lots ({b / a:.0f}× the lots): capture {rows[b][0] / rows[a][0]:.1f}×, calculation {rows[b][1] / rows[a][1]:.1f}× (linear: ≤ {b / a:.0f}×)")
PY
