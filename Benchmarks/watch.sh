#!/usr/bin/env bash
# Watcher benchmark: NODES receivers (default 8), each fed RATE events/s (default 4 000) by
# auditseal-load for SECONDS (default 150), shipping with the default 60 s heartbeat and segment age
# to a throw-away Ceph RGW on loopback; `auditseal watch` follows them all. Prints the watcher's
# verification lag (manifest landing in the bucket -> verified, sampled every 5 s from /metrics),
# its peak RSS, and the objects and requests each node's shipping costs per day. From the repo root:
#   bash Benchmarks/watch.sh [NODES] [RATE] [SECONDS]
set -euo pipefail
nodes=${1:-8}; rate=${2:-4000}; seconds=${3:-150}
root=$(pwd)
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; scripts/rgw.sh down "$work/rgw" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

swift build -c release --product auditseal 2>&1 | grep -E "error" || true
swift build -c release --product auditseal-load 2>&1 | grep -E "error" || true
swift build -c release --product auditseal-bench 2>&1 | grep -E "error" || true
bin=$root/.build/release

line=$(scripts/rgw.sh up "$work/rgw")
endpoint=$(echo "$line" | tr ' ' '\n' | sed -n 's/^endpoint=//p')
export AWS_ACCESS_KEY_ID=$(echo "$line" | tr ' ' '\n' | sed -n 's/^access_key=//p')
export AWS_SECRET_ACCESS_KEY=$(echo "$line" | tr ' ' '\n' | sed -n 's/^secret_key=//p')
bucket=watchbench
"$bin/auditseal" keygen --out "$work/signing.key" >/dev/null
# The bucket (with Object Lock), made by shipping a one-event store under another prefix.
echo '{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"setup","stage":"ResponseComplete"}' > "$work/one.log"
"$bin/auditseal" import --data-dir "$work/setup" --signing-key "$work/signing.key" --node setup "$work/one.log" >/dev/null
"$bin/auditseal" ship --data-dir "$work/setup" --s3-endpoint "$endpoint" --s3-bucket "$bucket" --s3-prefix setup --s3-retention-days 1 --create-bucket >/dev/null
"$bin/auditseal-bench" --write-eventlist "$work/eventlist.json" >/dev/null

urls=()
for i in $(seq 1 "$nodes"); do
  "$bin/auditseal" serve --listen 127.0.0.1:0 --data-dir "$work/n$i" --node "cp-$i" --signing-key "$work/signing.key" \
    --verify-interval-seconds 0 --s3-endpoint "$endpoint" --s3-bucket "$bucket" --s3-prefix bench --s3-retention-days 1 \
    > "$work/n$i.out" 2> "$work/n$i.err" &
  pids+=($!)
done
for i in $(seq 1 "$nodes"); do
  until grep -q "listening " "$work/n$i.out" 2>/dev/null; do sleep 0.1; done
  urls+=("$(sed -n 's/.*listening \([^ ]*\).*/\1/p' "$work/n$i.out" | head -1)")
done
"$bin/auditseal" watch "s3://$bucket/bench" --s3-endpoint "$endpoint" --public-key "$work/signing.key.pub" \
  --data-dir "$work/watch" --interval-seconds 5 --listen 127.0.0.1:0 > "$work/watch.out" 2> "$work/watch.err" &
watcher=$!; pids+=($watcher)
until grep -q "metrics on" "$work/watch.out" 2>/dev/null; do sleep 0.1; done
metrics=$(sed -n 's/.*metrics on \([^ ]*\).*/\1/p' "$work/watch.out" | head -1)

loads=()
for url in "${urls[@]}"; do
  "$bin/auditseal-load" --url "$url/v1/audit" --template "$work/eventlist.json" --connections 1 --seconds "$seconds" --rate "$rate" > /dev/null 2>&1 &
  loads+=($!)
done
: > "$work/lags"
end=$(( $(date +%s) + seconds ))
while [ "$(date +%s)" -lt "$end" ]; do
  sleep 5
  curl -s "$metrics" | sed -n 's/^auditseal_watch_verification_lag_seconds{[^}]*} //p' >> "$work/lags"
done
wait "${loads[@]}" || true
sleep 10  # one more manifest round and poll
curl -s "$metrics" | sed -n 's/^auditseal_watch_verification_lag_seconds{[^}]*} //p' >> "$work/lags"

echo "nodes $nodes, $rate events/s each, $seconds s"
sort -n "$work/lags" | awk '{a[NR]=$1} END {if (NR) printf "watcher lag (landing -> verified), %d samples: median %.2f s, max %.2f s\n", NR, a[int((NR+1)/2)], a[NR]}'
grep VmHWM /proc/$watcher/status | awk '{printf "watcher peak RSS %.1f MB\n", $2/1024}'
grep -c "" "$work/watch.out" | awk '{print "watcher output lines (findings are lines starting with auditseal: finding):", $1}'
grep -c "auditseal: finding" "$work/watch.out" || true
for i in $(seq 1 "$nodes"); do
  n=$(grep -c "" "$work/n$i/shipping/ledger" 2>/dev/null || echo 0)
  echo "cp-$i: $n objects shipped in $seconds s: $(( n * 86400 / seconds )) objects/day, $(( 2 * n * 86400 / seconds )) requests/day (HEAD + PUT each)"
done
curl -s "$metrics" | grep -E "^auditseal_watch_(tree_size|objects_downloaded_total|polls_total)" | head -20
