#!/usr/bin/env bash
# The reliability suite of SPEC §17 (docs/RELIABILITY.md), against real processes on loopback:
#   three_processes.py  exactly once: 64 same-key creates per route over three servers
#   crash.py            kill -9 of a server during a write load
#   pg_outage.py        a test-owned PostgreSQL cluster stopped and started under a running server
# (Redis outages and corruption are integration tests with a test-owned redis-server: tests/tests/it/
# matrix_faults.rs; fuzzing is tests/reliability/fuzz.sh and the proptest targets in `cargo test`.)
# Usage: run.sh <path to the updog binary> [postgres server URL]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$1"
server="${2:-postgres://postgres@127.0.0.1:5432}"
for script in three_processes crash; do
  printf '\n--- %s\n' "$script"
  timeout 600 python3 "$here/$script.py" "$binary" "$server"
done
printf '\n--- pg_outage\n'
timeout 300 python3 "$here/pg_outage.py" "$binary"
