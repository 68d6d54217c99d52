#!/usr/bin/env bash
# Proof generation on a sealed store of EVENTS events (default 10 million), release build:
#   - `auditseal prove --index I` for 20 indexes spread over the store (each a new process: it reads
#     the manifests, the .nodes files its path needs and the one segment holding the event);
#   - `auditseal consistency` between 10 pairs of checkpoints;
#   - the ceiling in the same run: gunzipping the one segment that holds an event (`gzip -dc`),
#     the least any proof that returns the stored line must do.
# From the repository root:  bash Benchmarks/proofs.sh [EVENTS]
set -euo pipefail
events=${1:-10000000}
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
swift build -c release --product auditseal 2>&1 | grep -E "error" || true
bin=$root/.build/release/auditseal
"$bin" keygen --out "$work/k.pem" >/dev/null
python3 - "$events" "$work" <<'PY'
import sys
n = int(sys.argv[1])
out = None
for i in range(n):
    if i % 1000000 == 0:
        out = open("%s/audit-%03d.log" % (sys.argv[2], i // 1000000), "w")
    out.write('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"bench-%d","stage":"ResponseComplete","verb":"%s","user":{"username":"alice@example.com","groups":["system:authenticated"]},"objectRef":{"resource":"deployments","namespace":"prod","name":"web-%d"},"stageTimestamp":"2026-11-28T%02d:%02d:%02d.000000Z"}\n'
      % (i, "delete" if i % 1000 == 0 else "get", i % 50, (i // 3600000) % 24, (i // 60000) % 60, (i // 1000) % 60))
PY
echo "store: $events events, $(cat "$work"/audit-*.log | wc -c) bytes of JSON lines"
start=$(date +%s.%N)
"$bin" import --data-dir "$work/data" --signing-key "$work/k.pem" --node bench --gzip-level 1 "$work"/audit-*.log | tail -1
echo "import: $(echo "$(date +%s.%N) - $start" | bc) s"
rm -f "$work"/audit-*.log
echo "segments: $(ls "$work/data/segments" | grep -c jsonl.gz), .nodes total: $(cat "$work/data/segments"/*.nodes | wc -c) bytes"

ms() { python3 -c "import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000, 1))" "$1" "$2"; }
echo "== prove --index (one event per proof, new process each) =="
total=0
for k in $(seq 0 19); do
  idx=$(( (events / 20) * k + 12345 ))
  s=$(date +%s.%N)
  "$bin" prove "$work/data" --index "$idx" -o "$work/p.json" 2>"$work/prove.err"
  e=$(date +%s.%N)
  t=$(ms "$s" "$e"); total=$(python3 -c "print($total + $t)")
  "$bin" verify-proof "$work/p.json" --public-key "$work/k.pem.pub" >/dev/null
done
echo "mean per proof: $(python3 -c "print(round($total / 20, 1))") ms ($(tail -1 "$work/prove.err"))"
seg=$(ls "$work/data/segments"/*.jsonl.gz | sed -n 2p)
s=$(date +%s.%N); gzip -dc "$seg" > /dev/null; e=$(date +%s.%N)
echo "ceiling: gunzip of one segment ($(du -h "$seg" | cut -f1)): $(ms "$s" "$e") ms"
echo "== consistency (10 pairs) =="
seqs=$(ls "$work/data/segments" | grep manifest.json | wc -l)
total=0
for k in $(seq 1 10); do
  a=$(( 1 + (k - 1) * (seqs - 1) / 11 )); b=$(( seqs - k + 1 ))
  s=$(date +%s.%N); "$bin" consistency "$work/data" --from "$a" --to "$b" -o "$work/c.json"; e=$(date +%s.%N)
  "$bin" verify-proof "$work/c.json" --public-key "$work/k.pem.pub" >/dev/null
  t=$(ms "$s" "$e"); total=$(python3 -c "print($total + $t)")
done
echo "mean per consistency proof: $(python3 -c "print(round($total / 10, 1))") ms"
echo "== prove --audit-id with --around (one segment searched) =="
s=$(date +%s.%N)
"$bin" prove "$work/data" --audit-id "bench-$((events / 2 + 17))" --around 2026-11-28T$(python3 -c "i=$events//2+17; print('%02d:%02d:%02d' % ((i//3600000)%24, (i//60000)%60, (i//1000)%60))").000000Z -o "$work/a.json" 2>"$work/prove.err"
e=$(date +%s.%N)
echo "prove --audit-id --around: $(ms "$s" "$e") ms ($(tail -1 "$work/prove.err"))"
