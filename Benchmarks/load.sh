#!/usr/bin/env bash
# Load benchmark of `auditseal serve` on loopback, with the machine's ceilings in the same run:
#   compute ceiling: gzip at the configured level + SHA-256 on the same event bytes (auditseal-bench)
#   HTTP ceiling: nginx answering 200 to the same POSTs, from the same load generator
# The load generator is the project's own (auditseal-load: blocking keep-alive connections, bodies
# stamped in place with fresh auditIDs), so it takes little of the two cores the server runs on.
# Needs: nginx-light (apt-get install -y nginx-light) for the HTTP ceiling. From the repository root:
#   bash Benchmarks/load.sh [SECONDS]
# The receiver runs with its defaults (gzip level 1); the compute ceiling uses the same level.
set -euo pipefail
secs=${1:-20}
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; wait; rm -rf "$work"' EXIT  # wait: a daemon still stopping must not lose its directory

for product in auditseal auditseal-bench auditseal-load; do
  swift build -c release --product "$product" 2>&1 | grep -E "error" || true
done
bin=$root/.build/release

# One realistic 400-event EventList; "@@" in each auditID is replaced per request.
"$bin/auditseal-bench" --write-eventlist "$work/eventlist.json" >/dev/null
echo "body: $(wc -c < "$work/eventlist.json") bytes before stamping, 400 events"
load() { "$bin/auditseal-load" --template "$work/eventlist.json" "$@"; }

echo "== compute ceiling (same event bytes) =="
"$bin/auditseal-bench" --events 200000 --ceilings-only --gzip-level 1 | tail -n +3

if command -v nginx >/dev/null; then
  echo "== HTTP ceiling: nginx answering 200 =="
  port_nginx=18081
  cat > "$work/nginx.conf" <<NGX
worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 1024; }
http { access_log off; client_max_body_size 16m; client_body_buffer_size 1m; keepalive_requests 1000000;
  server { listen 127.0.0.1:$port_nginx; location / { return 200 "{}"; } } }
NGX
  nginx -c "$work/nginx.conf" -p "$work"
  load --url "http://127.0.0.1:$port_nginx/v1/audit" --connections 8 --seconds "$secs"
  kill "$(cat "$work/nginx.pid")"; rm -f "$work/nginx.pid"
else
  echo "== HTTP ceiling: skipped (no nginx; apt-get install -y nginx-light) =="
fi

echo "== auditseal serve (fsync before every answer) =="
"$bin/auditseal" serve --listen 127.0.0.1:18080 --data-dir "$work/data" --verify-interval-seconds 0 --log-level warning \
  > "$work/serve.out" 2> "$work/serve.err" &
echo $! > "$work/auditseal.pid"
until grep -q listening "$work/serve.out" 2>/dev/null; do sleep 0.2; done
pid=$(cat "$work/auditseal.pid")
url=http://127.0.0.1:18080/v1/audit
echo "-- saturated, 8 connections --"
load --url "$url" --connections 8 --seconds "$secs" --pid "$pid"
echo "peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
echo "-- paced 5000 events/s --"
load --url "$url" --rate 5000 --seconds "$secs" --pid "$pid"
echo "-- paced 4000 events/s (the API server's default rate) --"
load --url "$url" --rate 4000 --seconds "$secs" --pid "$pid"
echo "peak RSS after paced runs: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
kill -TERM "$pid"; wait "$pid" || true
"$bin/auditseal" verify "$work/data" --public-key "$work/data/signing.key.pub" | tail -2

echo "== auditseal serve with background verification (its default interval), saturated, then idle =="
"$bin/auditseal" serve --listen 127.0.0.1:18080 --data-dir "$work/verified" --log-level warning \
  > "$work/serve2.out" 2> "$work/serve2.err" &
echo $! > "$work/auditseal.pid"
until grep -q listening "$work/serve2.out" 2>/dev/null; do sleep 0.2; done
pid=$(cat "$work/auditseal.pid")
load --url "$url" --connections 8 --seconds "$secs" --pid "$pid"
echo "peak RSS under load, verifying: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
# Idle until background verification has covered the newest manifest (or 120 s).
newest=$(ls "$work/verified/segments/" | grep 'manifest.json$' | sort | tail -1)
[[ $(cat "$work/verified/segments/$newest") =~ \"treeSize\":([0-9]+) ]] && sealed=${BASH_REMATCH[1]}
for _ in $(seq 1 120); do
  [[ $(cat "$work/verified/verify/last.json" 2>/dev/null) =~ \"treeSize\":([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge "$sealed" ] && break
  sleep 1
done
echo "peak RSS after verification caught up ($sealed events): $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
kill -TERM "$pid"; wait "$pid" || true
