#!/usr/bin/env bash
# Optimization, both passes, each objective, release build, at three sizes: 10,000 × 10 (SPEC §16:
# < 2 s; issue #27: ≤ 0.5 s), 100,000 × 10 (≤ 10 s, ≤ 500 MB) and 100,000 × 50 (the API's limits:
# completes). One process per size, so that each peak RSS is its own.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p service --example optimization_bench
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(date -u +%FT%TZ)"
for size in "10000 10" "100000 10" "100000 50"; do
  # shellcheck disable=SC2086 # two arguments
  ./target/release/examples/optimization_bench $size
done
