#!/usr/bin/env bash
# `auditseal import` of one large audit log, plain and gzip: events/s and peak RSS, against the
# ceiling of reading the file once (sha256sum, or zcat for gzip) measured in the same run. The
# point is memory: it stays near the 4 MiB pieces import reads, whatever the file's size (the
# whole-file read it replaced peaked at about 2.8x the file). From the repository root:
#   bash Benchmarks/import.sh [EVENTS]          (default 500 000: a 650 MB file)
set -euo pipefail
n=${1:-500000}
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
swift build -c release --product auditseal 2>&1 | grep -E "error" || true
bin=$root/.build/release/auditseal
python3 - "$n" "$work/audit.log" <<'PY'
import sys, datetime
n, path = int(sys.argv[1]), sys.argv[2]
stamp = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%S.134567Z')
with open(path, 'w') as f:
    for i in range(n):
        f.write('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"imp-%d","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/prod/deployments/web?timeout=30s","verb":"delete","user":{"username":"alice@example.com","groups":["system:authenticated","oidc:platform-admins"]},"sourceIPs":["10.20.30.40"],"userAgent":"kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46","objectRef":{"resource":"deployments","namespace":"prod","name":"web","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"status":"Success","code":200},"stageTimestamp":"%s","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \\"platform-admins\\" of ClusterRole \\"cluster-admin\\" to Group \\"oidc:platform-admins\\"","pad":"%s"}}\n' % (i, stamp, 'x' * 560))
PY
gzip -1 -k "$work/audit.log"
"$bin" keygen --out "$work/k.key" >/dev/null
size=$(stat -c %s "$work/audit.log")
echo "file: $n events, $((size / 1000000)) MB ($(( $(stat -c %s "$work/audit.log.gz") / 1000000 )) MB gzip)"
for f in audit.log audit.log.gz; do
  rm -rf "$work/data"
  reader=$([ "$f" = audit.log ] && echo "sha256sum" || echo "zcat")
  start=$(date +%s.%N); $reader "$work/$f" >/dev/null; read_s=$(python3 -c "import time,sys; print(time.time() - float(sys.argv[1]))" "$start")
  out=$( { /usr/bin/time -f "%e %M" "$bin" import --data-dir "$work/data" --signing-key "$work/k.key" --node n1 "$work/$f" >/dev/null; } 2>&1 | tail -1)
  secs=${out% *}; kib=${out#* }
  python3 -c "import sys; n,s,k,r=int(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4]); print(f'{sys.argv[5]:13} import {n/s:>9,.0f} events/s ({s:.1f} s), peak RSS {k/1024:.0f} MB; reading it once: {r:.1f} s ({sys.argv[6]})')" "$n" "$secs" "$kib" "$read_s" "$f" "$reader"
done
