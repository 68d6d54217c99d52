#!/usr/bin/env bash
# Cost of redaction on saturated ingest, in one sitting: `serve` with the built-in rules (the
# default, with an auditor key: vault records written and synced) against `serve --no-redaction`,
# each on two bodies of 400 events:
#   metadata:        the load benchmark's realistic Metadata-level EventList (Benchmarks/load.sh)
#   requestresponse: the leak corpus (Tests/AuditSealRedactionTests/Fixtures/leaks.jsonl, every
#                    event a credential shape at RequestResponse level, 11 of 12 redacted) repeated
# Also the vault's size per redacted value. From the repository root:
#   bash Benchmarks/redaction.sh [SECONDS]
set -euo pipefail
secs=${1:-15}
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; wait; rm -rf "$work"' EXIT
for product in auditseal auditseal-bench auditseal-load; do
  swift build -c release --product "$product" 2>&1 | grep -E "error" || true
done
bin=$root/.build/release
"$bin/auditseal-bench" --write-eventlist "$work/metadata.json" >/dev/null
python3 - "$root/Tests/AuditSealRedactionTests/Fixtures/leaks.jsonl" "$work/requestresponse.json" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
items = []
for n in range(400):
    e = dict(events[n % len(events)]); e.pop("kind"); e.pop("apiVersion")
    e["auditID"] = "@@-%d-%s" % (n + 1, e["auditID"])
    items.append(e)
open(sys.argv[2], "w").write(json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items}, separators=(",", ":")))
PY
"$bin/auditseal" keygen --auditor --out "$work/auditor" >/dev/null
printf 'redaction:\n  auditorKeys: [%s]\n' "$work/auditor.pub" > "$work/redaction.yaml"
run() {  # name body serve-arguments...
  local name=$1 body=$2; shift 2
  rm -rf "$work/data"
  "$bin/auditseal" serve --listen 127.0.0.1:18090 --data-dir "$work/data" --verify-interval-seconds 0 --log-level warning "$@" \
    > "$work/serve.out" 2> "$work/serve.err" &
  echo $! > "$work/auditseal.pid"
  until grep -q listening "$work/serve.out" 2>/dev/null; do sleep 0.2; done
  local pid; pid=$(cat "$work/auditseal.pid")
  printf '%-36s ' "$name"
  "$bin/auditseal-load" --template "$work/$body.json" --url http://127.0.0.1:18090/v1/audit --connections 8 --seconds "$secs" --pid "$pid" | grep -E "events/s" | head -1
  kill -TERM "$pid"; wait "$pid" || true; rm -f "$work/auditseal.pid"
  if compgen -G "$work/data/vault/*.vault*" >/dev/null; then
    local bytes values
    bytes=$(cat "$work"/data/vault/* | wc -c)
    values=$(cat "$work"/data/vault/* | python3 -c 'import sys,json; print(sum(len(json.loads(l)["commitments"]) for l in sys.stdin if l.strip()))')
    echo "  vault: $bytes bytes for $values redacted values ($((bytes / (values > 0 ? values : 1))) bytes each, one auditor key)"
  fi
}
for body in metadata requestresponse; do
  run "$body, no redaction" "$body" --no-redaction
  run "$body, built-in rules + vault" "$body" --config "$work/redaction.yaml"
done
