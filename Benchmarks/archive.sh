#!/usr/bin/env bash
# Reading and verifying an archive of EVENTS events (default 10 million), release build:
#   - `auditseal verify` events/s (ISA-L inflate, every hash recomputed), against the ceilings of
#     the same run: inflating every segment alone with zlib, libdeflate and ISA-L
#     (Benchmarks/inflate.sh), and journalctl --verify when a journal of the same size exists (not here);
#   - `auditseal cat` with a one-hour --since/--until window and with --user: time to the first
#     result and events/s scanned (`cat --stats`).
# Events are ~600-byte Metadata events of 50 users over ~28 hours (one every 10 ms).
# From the repository root:  bash Benchmarks/archive.sh [EVENTS]
set -euo pipefail
events=${1:-10000000}
root=$(pwd)
work=${WORK:-$(mktemp -d)}
trap 'rm -rf "$work"' EXIT
swift build -c release --product auditseal 2>&1 | grep -E "error" || true
bin=$root/.build/release/auditseal
"$bin" keygen --out "$work/k.pem" >/dev/null
python3 - "$events" "$work" <<'PY'
import sys, datetime
n = int(sys.argv[1]); out = None
t0 = datetime.datetime(2026, 11, 20, 0, 0, 0)
verbs = ["get", "list", "watch", "update", "patch", "create", "delete"]
res = ["pods", "deployments", "configmaps", "secrets", "services", "leases", "nodes"]
for i in range(n):
    if i % 1000000 == 0:
        out = open("%s/audit-%03d.log" % (sys.argv[2], i // 1000000), "w")
    t = t0 + datetime.timedelta(milliseconds=10 * i)
    ts = t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    u = "user-%02d@example.com" % (i % 50)
    v = verbs[(i * 7) % 7 if i % 11 else 6]; r = res[(i // 3) % 7]
    out.write('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%08x-%04x-4%03x-8%03x-%012x","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/ns-%d/%s/obj-%d","verb":"%s","user":{"username":"%s","groups":["system:authenticated","team-%d"]},"sourceIPs":["10.%d.%d.%d"],"userAgent":"kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46","objectRef":{"resource":"%s","namespace":"ns-%d","name":"obj-%d","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":%d},"requestReceivedTimestamp":"%s","stageTimestamp":"%s","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \\"team-%d\\""}}\n'
              % (i, i % 65536, i % 4096, (i * 13) % 4096, i * 2654435761 % (1 << 48), i % 40, r, i % 997, v, u, i % 7, i % 250, (i // 250) % 250, i % 200, r, i % 40, i % 997, 403 if i % 97 == 0 else 200, ts, ts, i % 7))
PY
echo "store: $events events, $(cat "$work"/audit-*.log | wc -c) bytes of JSON lines"
s=$(date +%s.%N)
"$bin" import --data-dir "$work/data" --signing-key "$work/k.pem" --node bench --gzip-level 1 "$work"/audit-*.log | tail -1
e=$(date +%s.%N)
echo "import: $(python3 -c "print(round($e - $s, 1))") s; segments: $(ls "$work/data/segments" | grep -c jsonl.gz), $(du -sh "$work/data/segments" | cut -f1) on disk"
rm -f "$work"/audit-*.log
echo "== ceiling: inflate every segment alone (best of 2) =="
bash "$root/Benchmarks/inflate.sh" "$work/data" 2
echo "== auditseal verify =="
s=$(date +%s.%N)
"$bin" verify "$work/data" --public-key "$work/k.pem.pub" | tail -1
e=$(date +%s.%N)
echo "verify: $(python3 -c "print(round($e - $s, 2), 's,', int($events / ($e - $s)), 'events/s')")"
echo "== auditseal cat =="
hour="2026-11-21T03:00:00Z"; until="2026-11-21T04:00:00Z"
"$bin" cat "$work/data" --public-key "$work/k.pem.pub" --since "$hour" --until "$until" --stats > /dev/null
"$bin" cat "$work/data" --public-key "$work/k.pem.pub" --since "$hour" --until "$until" --user user-07@example.com --stats > /dev/null
"$bin" cat "$work/data" --public-key "$work/k.pem.pub" --user user-07@example.com --stats > /dev/null
"$bin" cat "$work/data" --public-key "$work/k.pem.pub" --user user-07@example.com --stats -o kubectl > /dev/null
