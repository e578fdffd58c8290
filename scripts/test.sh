#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and integration tests that start the real
# `reprise` binary against real redb files and loopback HTTP servers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-guests.sh
cargo build -p reprise --bin reprise
cargo test "$@"
