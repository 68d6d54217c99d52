#!/usr/bin/env bash
# Reconciliation benchmark (issue 13), with the machine's ceiling measured in the same run:
#   read ceiling: sha256sum of the log file (reading and hashing every byte once)
# and, for comparison, `auditseal import` of the same file (the append path a backfilled event takes)
# then: indexing a chain of N events, reconciling N logged events that are all stored (index
# lookups and byte comparison), reconciling them into an empty store (all backfilled), the index's
# size on disk, and the receiver's saturated ingest rate with and without reconciliation running.
# From the repository root:  bash Benchmarks/reconcile.sh [EVENTS] [SECONDS]
set -euo pipefail
n=${1:-1000000}
secs=${2:-20}
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; wait; rm -rf "$work"' EXIT  # wait: a daemon still stopping must not lose its directory
for product in auditseal auditseal-bench auditseal-load; do
  swift build -c release --product "$product" 2>&1 | grep -E "error" || true
done
bin=$root/.build/release
now() { date +%s.%N; }
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):,.0f}')" "$@"; }

# N events as the API server's log backend writes them: Go's encoding, one a line, ~1.3 KB each,
# stageTimestamps advancing 1 ms apart and ending an hour ago.
python3 - "$n" "$work/audit.log" <<'PY'
import sys, datetime
n, path = int(sys.argv[1]), sys.argv[2]
start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1, milliseconds=n)
head = '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"'
mid = '","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/prod/deployments/web?timeout=30s","verb":"delete","user":{"username":"alice@example.com","groups":["system:authenticated","oidc:platform-admins"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=4f1c2d3e-5a6b-7c8d-9e0f-112233445566"]}},"sourceIPs":["10.20.30.40"],"userAgent":"kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46","objectRef":{"resource":"deployments","namespace":"prod","name":"web","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"status":"Success","code":200},"requestReceivedTimestamp":"'
tail = '","annotations":{"apiserver.latency.k8s.io/etcd":"4.123456ms","apiserver.latency.k8s.io/total":"11.111111ms","authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \\"platform-admins\\" of ClusterRole \\"cluster-admin\\" to Group \\"oidc:platform-admins\\"","pod-security.kubernetes.io/enforce-policy":"restricted:latest"}}\n'
with open(path, 'w') as f:
    for i in range(n):
        t = (start + datetime.timedelta(milliseconds=i)).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
        f.write(f'{head}{i:08x}-7c1e-4a2b-9d3f-{i:012x}{mid}{t}","stageTimestamp":"{t}{tail}')
PY
echo "log file: $n events, $(du -m "$work/audit.log" | cut -f1) MB"
"$bin/auditseal" keygen --out "$work/signing.key" >/dev/null
store() { echo "--data-dir $work/$1 --signing-key $work/signing.key --node bench --gzip-level 1"; }

echo "== read ceiling: sha256sum of the log file =="
t0=$(now); sha256sum "$work/audit.log" >/dev/null; t1=$(now)
echo "$(rate "$n" "$t0" "$t1") events/s"
echo "== for comparison: auditseal import of the same file (the same append path, from one buffer) =="
t0=$(now); "$bin/auditseal" import $(store full) "$work/audit.log" >/dev/null; t1=$(now)
echo "$(rate "$n" "$t0" "$t1") events/s"

: > "$work/empty.log"
echo "== indexing the chain of $n events (reconcile with an empty log file) =="
t0=$(now); "$bin/auditseal" reconcile $(store full) --audit-log "$work/empty.log" >/dev/null; t1=$(now)
echo "$(rate "$n" "$t0" "$t1") events/s indexed"
echo "index on disk: $(du -cb "$work"/full/reconcile/index.sqlite* | tail -1 | cut -f1) bytes = $(du -cb "$work"/full/reconcile/index.sqlite* | tail -1 | awk -v n="$n" '{printf "%.1f MB per million events", $1 / n}')"
echo "== reconciling $n logged events, every one already stored (lookups, byte comparison) =="
t0=$(now); "$bin/auditseal" reconcile $(store full) --audit-log "$work/audit.log" | sed -n 1p; t1=$(now)
echo "$(rate "$n" "$t0" "$t1") events/s read from the log"
echo "== reconciling $n logged events into an empty store (every one backfilled) =="
t0=$(now); "$bin/auditseal" reconcile $(store empty) --audit-log "$work/audit.log" | sed -n 1p; t1=$(now)
echo "$(rate "$n" "$t0" "$t1") events/s backfilled"
"$bin/auditseal" verify "$work/empty" --public-key "$work/signing.key.pub" | grep -E "complete:|INTACT|TAMPERED"

echo "== the index's cost on ingest: saturated receiver, 8 connections, without and with reconciliation =="
"$bin/auditseal-bench" --write-eventlist "$work/eventlist.json" >/dev/null
cat > "$work/reconcile.yaml" <<YAML
reconcile:
  auditLogPaths: [$work/empty.log]
  intervalSeconds: 1
  settleSeconds: 0
YAML
# Each run on a fresh receiver, so that the indexer never carries another run's backlog.
for kind in saturated paced; do
  for mode in without with; do
    for round in 1 2; do
      rm -rf "$work/ingest"
      extra=(); [ "$mode" = with ] && extra=(--config "$work/reconcile.yaml")
      "$bin/auditseal" serve --listen 127.0.0.1:18090 --data-dir "$work/ingest" --verify-interval-seconds 0 --log-level warning "${extra[@]}" \
        > "$work/serve.out" 2> "$work/serve.err" &
      echo $! > "$work/serve.pid"
      until grep -q listening "$work/serve.out" 2>/dev/null; do sleep 0.2; done
      if [ "$kind" = saturated ]; then
        echo "-- saturated, 8 connections, $mode reconciliation, round $round --"
        "$bin/auditseal-load" --template "$work/eventlist.json" --url http://127.0.0.1:18090/v1/audit --connections 8 --seconds "$secs" --pid "$(cat "$work/serve.pid")"
      else
        echo "-- paced 4 000 events/s (the API server's default ceiling), $mode reconciliation, round $round --"
        "$bin/auditseal-load" --template "$work/eventlist.json" --url http://127.0.0.1:18090/v1/audit --rate 4000 --seconds "$secs" --pid "$(cat "$work/serve.pid")"
      fi
      if [ "$mode" = with ]; then
        python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('index: through event', r['indexedThrough'], 'at the last pass')" "$work/ingest/reconcile/report.json"
      fi
      kill -TERM "$(cat "$work/serve.pid")"; wait "$(cat "$work/serve.pid")" || true; rm -f "$work/serve.pid"
    done
  done
done
