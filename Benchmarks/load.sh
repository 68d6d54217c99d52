#!/usr/bin/env bash
# Load benchmark of `auditseal serve` on loopback, with the machine's ceilings in the same run:
#   compute ceiling (gzip at the configured level + SHA-256 on the same event bytes: auditseal-bench)
#   HTTP ceiling (nginx answering 200 to the same POSTs)
# Needs: wrk, nginx-light, python3 (apt-get install -y wrk nginx-light). Run from the repository root:
#   bash Benchmarks/load.sh [SECONDS]
# The receiver runs with its defaults (gzip level 1); the compute ceiling uses the same level.
set -euo pipefail
secs=${1:-20}
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT

swift build -c release --product auditseal 2>&1 | grep -E "error|Compiling auditseal" || true
swift build -c release --product auditseal-bench 2>&1 | grep -E "error" || true
bin=$root/.build/release

# One realistic 400-event EventList; "@@" in each auditID is replaced per request.
"$bin/auditseal-bench" --write-eventlist "$work/eventlist.json" >/dev/null
export AUDITSEAL_BODY="$work/eventlist.json"
echo "body: $(wc -c < "$work/eventlist.json") bytes, 400 events"

echo "== compute ceiling (same event bytes) =="
"$bin/auditseal-bench" --events 200000 --ceilings-only --gzip-level 1 | tail -n +3

echo "== HTTP ceiling: nginx answering 200 =="
port_nginx=18081
cat > "$work/nginx.conf" <<NGX
worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 1024; }
http { access_log off; client_max_body_size 16m; client_body_buffer_size 1m;
  server { listen 127.0.0.1:$port_nginx; location / { return 200 "{}"; } } }
NGX
nginx -c "$work/nginx.conf" -p "$work"
wrk -t2 -c8 -d"${secs}s" --latency -s "$root/Benchmarks/post.lua" "http://127.0.0.1:$port_nginx/v1/audit" | grep -E "Requests/sec|99%|Transfer"
kill "$(cat "$work/nginx.pid")"; rm -f "$work/nginx.pid"

echo "== auditseal serve (fsync before every answer) =="
"$bin/auditseal" serve --listen 127.0.0.1:18080 --data-dir "$work/data" --verify-interval-seconds 0 --log-level warning \
  > "$work/serve.out" 2> "$work/serve.err" &
echo $! > "$work/auditseal.pid"
until grep -q listening "$work/serve.out" 2>/dev/null; do sleep 0.2; done
pid=$(cat "$work/auditseal.pid")
out=$(wrk -t2 -c8 -d"${secs}s" --latency -s "$root/Benchmarks/post.lua" "http://127.0.0.1:18080/v1/audit")
echo "$out" | grep -E "Requests/sec|99%|Non-2xx" || true
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
echo "events/s sustained: $(python3 -c "print(round($rps*400))")"
echo "peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
python3 "$root/Benchmarks/paced.py" 127.0.0.1 18080 5000 "$secs" "$pid"
python3 "$root/Benchmarks/paced.py" 127.0.0.1 18080 4000 "$secs" "$pid"
echo "peak RSS after paced runs: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
kill -TERM "$pid"; wait "$pid" || true
"$bin/auditseal" verify "$work/data" --public-key "$work/data/signing.key.pub" | tail -2
