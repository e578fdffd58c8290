#!/usr/bin/env bash
# The main job: build the host and the example functions, start a host on its embedded
# default (a redb file in ./reprise-data, API on 127.0.0.1:7420), deploy the examples,
# invoke them, print the results, and stop the host.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-guests.sh
cargo build --release -p reprise --bin reprise -p reprise-tests --bin mock-crm

bin=target/release
guests=target/wasm32-wasip2/guest
export REPRISE_URL=http://127.0.0.1:7420
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# The mock CRM runs on this machine: let guests reach loopback.
"$bin/reprise" serve --allow-egress 127.0.0.0/8 &
pids+=($!)
"$bin/mock-crm" --listen 127.0.0.1:7480 --token demo-token --latency-ms 5..20 &
pids+=($!)
for _ in $(seq 1 100); do
  "$bin/reprise" deployments >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== deploy and invoke hello"
"$bin/reprise" deploy hello "$guests/hello.wasm"
"$bin/reprise" invoke hello --input '{"name": "world"}' --wait

echo "== export three users to the mock CRM with crm-export"
"$bin/reprise" deploy crm-export "$guests/crm_export.wasm"
input='{"crm_url": "http://127.0.0.1:7480", "token": "demo-token", "users": [
  {"id": 1, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
  {"id": 2, "first_name": "Alan", "last_name": "Turing", "email": "alan@example.com"},
  {"id": 3, "first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"}]}'
id=$("$bin/reprise" invoke crm-export.export_users --input "$input")
"$bin/reprise" status "$id" --wait 60
echo "== its journal"
"$bin/reprise" journal "$id"
echo "== stopping the host"
