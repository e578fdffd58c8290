#!/usr/bin/env bash
# The CRM scenario of the README: export 5,000 users with crm-export to a mock CRM that takes
# at most 20 concurrent requests and 200 requests/s (429 + Retry-After above that) and goes
# down with 503s for 10 s in the middle, while another export goes to a healthy CRM; then the
# same export written naively (16 workers, within the limits; no retries) against the same limits.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-guests.sh
cargo build --release -p reprise --bin reprise \
  -p reprise-tests --bin mock-crm --bin naive-export

bin=target/release
guests=target/wasm32-wasip2/guest
work=$(mktemp -d)
export REPRISE_URL=http://127.0.0.1:7421
# The host writes its keys under its data directory at first start; the CLI reads them there.
export REPRISE_DATA="$work/data"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

limits=(--max-concurrency 20 --rate-limit 200 --latency-ms 50..150)
"$bin/reprise" serve --allow-egress 127.0.0.0/8 --listen 127.0.0.1:7421 2>"$work/host.log" &
pids+=($!)
"$bin/mock-crm" --listen 127.0.0.1:7481 "${limits[@]}" --outage 8+10 >"$work/limited.log" &
limited=$!
pids+=($limited)
"$bin/mock-crm" --listen 127.0.0.1:7482 --latency-ms 50..150 >"$work/healthy.log" &
pids+=($!)
for _ in $(seq 1 100); do
  "$bin/reprise" deployments >/dev/null 2>&1 && break
  sleep 0.1
done
"$bin/reprise" deploy crm "$guests/crm_export.wasm" >/dev/null

users() { # users FROM TO CRM_URL
  printf '{"crm_url": "%s", "token": "test-token", "users": [' "$3"
  for ((u = $1; u < $2; u++)); do
    [[ $u -gt $1 ]] && printf ','
    printf '{"id": %d, "first_name": "First%d", "last_name": "Last", "email": "user%d@example.com"}' "$u" "$u" "$u"
  done
  printf ']}'
}
users 0 5000 http://127.0.0.1:7481 >"$work/big.json"
users 0 100 http://127.0.0.1:7482 >"$work/small.json"

echo "== export 100 users to the healthy CRM (baseline)"
time "$bin/reprise" invoke crm.export_users --input-file "$work/small.json" --wait --json >/dev/null

echo "== export 5,000 users to the limited CRM (20 at once, 200/s, 10 s outage after 8 s)"
start=$(date +%s%N)
id=$("$bin/reprise" invoke crm.export_users --input-file "$work/big.json")
sleep 12
echo "== during the outage: 100 users to the healthy CRM"
users 100 200 http://127.0.0.1:7482 >"$work/small2.json"
time "$bin/reprise" invoke crm.export_users --input-file "$work/small2.json" --wait --json >/dev/null
"$bin/reprise" status "$id" --wait 600 | grep -E "^(state|attempts|finished)"
end=$(date +%s%N)
echo "the 5,000-user export took $(((end - start) / 1000000)) ms"
"$bin/reprise" ls --state failed | tail -n +2 | wc -l | xargs printf 'failed invocations: %s\n'
kill -INT "$limited"; wait "$limited" 2>/dev/null || true
grep "stats" "$work/limited.log"

echo "== the same 5,000 users, naively (16 workers, no retries), against the same limits"
"$bin/mock-crm" --listen 127.0.0.1:7483 "${limits[@]}" --outage 8+10 >"$work/naive.log" &
naive=$!
pids+=($naive)
sleep 0.5
"$bin/naive-export" --crm-url http://127.0.0.1:7483 --users 5000 --workers 16
kill -INT "$naive"; wait "$naive" 2>/dev/null || true
grep "stats" "$work/naive.log"
