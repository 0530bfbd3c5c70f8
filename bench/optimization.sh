#!/usr/bin/env bash
# Optimization of a 10,000 × 10 scenario matrix, both passes, each objective (SPEC §16: < 2 s), release.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p service --example optimization_bench
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(date -u +%FT%TZ)"
./target/release/examples/optimization_bench
