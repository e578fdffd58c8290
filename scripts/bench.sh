#!/usr/bin/env bash
# Benchmarks: builds the host and the guests in release mode and runs `reprise-bench` with
# the given arguments, e.g. `scripts/bench.sh suspended --count 100000`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-guests.sh
cargo build --release -p reprise --bin reprise -p reprise-tests --bin reprise-bench
exec target/release/reprise-bench "$@"
