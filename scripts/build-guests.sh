#!/usr/bin/env bash
# Builds the example and test functions into WebAssembly components:
#   target/wasm32-wasip2/guest/{hello,crm_export,reminder,approval,reprise_test_guests}.wasm,
# the test functions using standard wasi:http clients, reprise_test_{wstd,waki}.wasm,
# the Python and JavaScript functions (below),
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

# Python functions, with componentize-py from PyPI in a virtual environment under target/:
#   target/wasm32-wasip2/guest/{crm_export_py,py_guests}.wasm
componentize_py_version=0.25.1
py_tools=target/python-tools
if ! "$py_tools/bin/componentize-py" --version 2>/dev/null | grep -qx "componentize-py $componentize_py_version"; then
  python3 -m venv "$py_tools"
  "$py_tools/bin/pip" install --quiet "componentize-py==$componentize_py_version"
fi
# Builds Python module $2 in directory $1 into $3, unless $3 is newer than every input.
python_component() {
  if [ -f "$3" ] && [ -z "$(find "$1" guest-sdk-python guest-sdk/wit -newer "$3" -type f | head -1)" ]; then
    return
  fi
  "$py_tools/bin/componentize-py" -q -d guest-sdk/wit -w function componentize \
    -p guest-sdk-python -p "$1" "$2" -o "$3"
}
python_component examples/crm-export-py app "$out/crm_export_py.wasm"
python_component tests/python-guests py_guests "$out/py_guests.wasm"

# JavaScript functions, with componentize-js from npm (the versions guest-sdk-js/tools pins)
# under target/:   target/wasm32-wasip2/guest/{crm_export_js,js_guests}.wasm
js_tools=target/js-tools
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
fi
if ! cmp -s guest-sdk-js/tools/package-lock.json "$js_tools/package-lock.json" \
  || ! [ -d "$js_tools/node_modules" ]; then
  mkdir -p "$js_tools"
  cp guest-sdk-js/tools/package.json guest-sdk-js/tools/package-lock.json "$js_tools/"
  (cd "$js_tools" && npm ci --quiet --no-audit --no-fund)
fi
# Builds JavaScript module $1 (whose directory holds its other modules) into $2, unless $2 is
# newer than every input.
js_component() {
  if [ -f "$2" ] && [ -z "$(find "$(dirname "$1")" guest-sdk-js/reprise guest-sdk/wit -newer "$2" -type f | head -1)" ]; then
    return
  fi
  node "$js_tools/node_modules/@bytecodealliance/componentize-js/src/cli.js" \
    "$1" --wit guest-sdk/wit -n function -o "$2"
}
js_component examples/crm-export-js/app.js "$out/crm_export_js.wasm"
js_component tests/js-guests/js_guests.js "$out/js_guests.wasm"
