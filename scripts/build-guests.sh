#!/usr/bin/env bash
# Builds the example and test functions into WebAssembly components:
#   target/wasm32-wasip2/guest/{hello,crm_export,reminder,approval,reprise_test_guests}.wasm,
# the test functions using standard wasi:http clients, reprise_test_{wstd,waki}.wasm,
# and the test functions' variants for the rewind tests,
#   target/wasm32-wasip2/guest/reprise_test_guests_{fixed,diverged}.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
out=target/wasm32-wasip2/guest
for variant in fixed diverged; do
  cargo build --profile guest --target wasm32-wasip2 -p reprise-test-guests --features "$variant"
  cp "$out/reprise_test_guests.wasm" "$out/reprise_test_guests_$variant.wasm"
done
# The default build last: it is the one left at reprise_test_guests.wasm.
for client in wstd waki; do
  cargo build --profile guest --target wasm32-wasip2 -p reprise-test-wasi-http \
    --no-default-features --features "$client"
  cp "$out/reprise_test_wasi_http.wasm" "$out/reprise_test_$client.wasm"
done
cargo build --profile guest --target wasm32-wasip2 \
  -p hello -p crm-export -p reminder -p approval -p reprise-test-guests

