#!/usr/bin/env bash
# Builds the example and test functions into WebAssembly components:
#   target/wasm32-wasip2/guest/{hello,crm_export,reminder,approval,reprise_test_guests}.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
cargo build --profile guest --target wasm32-wasip2 \
  -p hello -p crm-export -p reminder -p approval -p reprise-test-guests
