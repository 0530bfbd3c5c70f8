#!/usr/bin/env bash
# Scenario-matrix benchmarks (SPEC §16, issue #12), release build, one run:
#   - generating a 10,000 × 10 matrix (target < 100 ms);
#   - a first-tier hit from Redis against a raw Redis GET of the same bytes (target ≤ 2×).
# Redis at BENCH_REDIS_URL (default redis://127.0.0.1:6379); BENCH_ROUNDS requests per series (2000).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p service --example matrix_cache_bench
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(date -u +%FT%TZ)"
./target/release/examples/matrix_cache_bench
