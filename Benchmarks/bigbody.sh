#!/usr/bin/env bash
# Memory of `auditseal serve` under one very large batch: 400 RequestResponse events of about
# MB_PER_EVENT MB each (the API server sends such batches when objects are large and truncation is
# off). Samples the receiver's anonymous and file-backed resident memory every 20 ms while the batch
# is posted, stored and answered, then verifies the store. From the repository root:
#   bash Benchmarks/bigbody.sh [MB_PER_EVENT]      (default 2.5: a 1 GB body)
set -euo pipefail
mb=${1:-2.5}
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; wait; rm -rf "$work"' EXIT  # wait: a daemon still stopping must not lose its directory
swift build -c release --product auditseal 2>&1 | grep -E "error" || true
bin=$root/.build/release

python3 - "$work/big.json" "$mb" <<'PY'
import sys
path, mb = sys.argv[1], float(sys.argv[2])
pad = "x" * int(mb * 1e6 / 2)
with open(path, "w") as f:
    f.write('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[')
    for i in range(400):
        if i: f.write(",")
        f.write('{"level":"RequestResponse","auditID":"big-%d","stage":"ResponseComplete","verb":"update",'
                '"user":{"username":"system:serviceaccount:kube-system:big"},"objectRef":{"resource":"configmaps","namespace":"prod","name":"cm-%d"},'
                '"requestObject":{"data":{"blob":"%s"}},"responseObject":{"data":{"blob":"%s"}}}' % (i, i, pad, pad))
    f.write("]}")
PY
echo "body: $(wc -c < "$work/big.json") bytes, 400 events"

"$bin/auditseal" serve --listen 127.0.0.1:18090 --data-dir "$work/data" --verify-interval-seconds 0 --log-level warning \
  > "$work/serve.out" 2> "$work/serve.err" &
echo $! > "$work/auditseal.pid"
pid=$(cat "$work/auditseal.pid")
until grep -q listening "$work/serve.out" 2>/dev/null; do sleep 0.2; done
echo "before: $(grep -E 'RssAnon|RssFile' /proc/$pid/status | tr -s ' \n' ' ')"

( peak_anon=0; peak_file=0
  while [ ! -e "$work/done" ]; do
    read -r anon file < <(awk '/RssAnon/ {a=$2} /RssFile/ {f=$2} END {print a, f}' /proc/$pid/status)
    [ "$anon" -gt "$peak_anon" ] && peak_anon=$anon
    [ "$file" -gt "$peak_file" ] && peak_file=$file
    sleep 0.02
  done
  echo "peak while posting: RssAnon $peak_anon kB, RssFile $peak_file kB" ) &
sampler=$!
start=$(date +%s.%N)
code=$(curl -s -o "$work/answer" -w "%{http_code}" -H "Content-Type: application/json" --data-binary "@$work/big.json" http://127.0.0.1:18090/v1/audit)
end=$(date +%s.%N)
touch "$work/done"; wait $sampler
echo "answer: $code $(cat "$work/answer") in $(python3 -c "print(round($end - $start, 2))") s"
echo "VmHWM (anonymous + mapped pages): $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
kill -TERM "$pid"; wait "$pid" || true
"$bin/auditseal" verify "$work/data" --public-key "$work/data/signing.key.pub" | tail -2
