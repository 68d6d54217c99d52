#!/usr/bin/env bash
# Shipping benchmark: imports N synthetic ~1.3 KB events (default 400 000) at gzip level 1, ships
# them with `auditseal ship` to a throw-away Ceph RGW on loopback (scripts/rgw.sh), verifies them
# from the bucket, and runs `ship` again (nothing left to do). Run from the repository root:
#   bash Benchmarks/ship.sh [EVENTS]
set -euo pipefail
events=${1:-400000}
root=$(pwd)
work=$(mktemp -d)
trap 'scripts/rgw.sh down "$work/rgw" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

swift build -c release --product auditseal 2>&1 | grep -E "error" || true
swift build -c release --product auditseal-bench 2>&1 | grep -E "error" || true
bin=$root/.build/release

line=$(scripts/rgw.sh up "$work/rgw")
endpoint=$(echo "$line" | tr ' ' '\n' | sed -n 's/^endpoint=//p')
export AWS_ACCESS_KEY_ID=$(echo "$line" | tr ' ' '\n' | sed -n 's/^access_key=//p')
export AWS_SECRET_ACCESS_KEY=$(echo "$line" | tr ' ' '\n' | sed -n 's/^secret_key=//p')

"$bin/auditseal-bench" --write-eventlist "$work/eventlist.json" >/dev/null
python3 - "$work/eventlist.json" "$events" > "$work/events.log" <<'PY'
import json, sys
items = json.loads(open(sys.argv[1]).read().replace("@@", "x"))["items"]
for n in range(int(sys.argv[2])):
    event = dict(items[n % len(items)], auditID=f"ship-{n}", kind="Event", apiVersion="audit.k8s.io/v1")
    print(json.dumps(event, separators=(",", ":")))
PY
"$bin/auditseal" keygen --out "$work/signing.key" >/dev/null
"$bin/auditseal" import --data-dir "$work/data" --signing-key "$work/signing.key" --node bench --gzip-level 1 "$work/events.log" | tail -1
echo "sealed: $(ls "$work/data/segments" | wc -l) files, $(du -sb "$work/data/segments" | cut -f1) bytes"

s3=(--s3-endpoint "$endpoint" --s3-bucket bench --s3-prefix p --s3-retention-days 1)
start=$(date +%s.%N)
"$bin/auditseal" ship --data-dir "$work/data" "${s3[@]}" --create-bucket | tail -1
echo "ship: $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s"
start=$(date +%s.%N)
"$bin/auditseal" verify s3://bench/p --s3-endpoint "$endpoint" --public-key "$work/signing.key.pub" --s3-retention-days 1 | tail -1
echo "verify s3://: $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s"
start=$(date +%s.%N)
"$bin/auditseal" ship --data-dir "$work/data" "${s3[@]}" | tail -1
echo "second ship: $(python3 -c "print(round($(date +%s.%N) - $start, 2))") s"
