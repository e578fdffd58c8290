#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and integration tests that start the real
# `reprise` binary against real redb files and loopback HTTP servers.
set -euo pipefail
cd "$(dirname "$0")/.."
# The console's tests drive Debian's Chromium through ChromeDriver.
if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
fi
scripts/build-guests.sh
cargo build -p reprise --bin reprise
cargo test "$@"
# The example tested with the test kit, as a function author would (a guest crate: not a
# default member).
cargo test -p reminder "$@"
