#!/usr/bin/env bash
# Hostile clients at scale against the release `auditseal serve` over mTLS, on loopback, with the
# ceiling measured in the same run: the same well-behaved client alone. Then the same client
# beside (1) 10 000 idle connections kept at that size plus a TLS handshake flood, and (2) all of
# that plus header floods, bodies over each limit, a gzip bomb and concurrent large batches
# against the memory budget (Tests/HostileClients/hostile.py). The well-behaved client posts
# 400-event batches one at a time on a keep-alive connection, as the API server's webhook sender
# does; every attempt's latency counts (retries included). The receiver runs with its defaults
# (4 096 connection slots, 256 MiB memory budget), but maxBodyBytes 64 MiB, so that the over-limit
# bodies and the gzip bomb (64 x maxBodyBytes decoded) stay quick to make. Needs python3. From the repository root:
#   bash Benchmarks/hostile.sh [BATCHES] [IDLE]
# AUDITSEAL_BIN=PATH runs that binary instead of building one (to compare two builds in one
# sitting); SCENARIOS="alone idle large all" picks scenarios (default: all four);
# ATTACKERS_NICE=N runs the attackers (not the well-behaved client) at nice N, as attackers on other
# machines would be: their CPU is not the receiver's (default 0: they share its cores as equals).
set -euo pipefail
batches=${1:-300}
idle=${2:-10000}
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; wait; rm -rf "$work"' EXIT  # wait: a daemon still stopping must not lose its directory
bin=${AUDITSEAL_BIN:-}
if [ -z "$bin" ]; then
  swift build -c release --product auditseal 2>&1 | grep -E "error" || true
  bin=$root/.build/release/auditseal
fi
scenarios=" ${SCENARIOS:-alone idle large all} "
want() { [[ $scenarios == *" $1 "* ]]; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

"$bin" certs --out "$work/certs" > /dev/null
"$bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" --verify-interval-seconds 0 --log-level warning \
  --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" --client-ca "$work/certs/ca.crt" \
  --allowed-client-cn kube-apiserver --max-body-bytes $((64 << 20)) --ops-listen 127.0.0.1:0 > "$work/serve.out" 2> "$work/serve.err" &
echo $! > "$work/auditseal.pid"
pid=$(cat "$work/auditseal.pid")
until grep -q "auditseal: ops" "$work/serve.out" 2>/dev/null; do sleep 0.2; done
url=$(awk '/auditseal: listening/ {print $3}' "$work/serve.out")/v1/audit
ops=$(awk '/auditseal: ops/ {print $3}' "$work/serve.out")
echo "receiver: $url (pid $pid), RSS at start $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"

run() { # label, hostile.py arguments...
  local label=$1; shift
  python3 "$root/Tests/HostileClients/hostile.py" --url "$url" --ca "$work/certs/ca.crt" \
    --cert "$work/certs/apiserver.crt" --key "$work/certs/apiserver.key" --pid "$pid" \
    --good-batches "$batches" --good-events 400 --max-body $((64 << 20)) --attackers-nice "${ATTACKERS_NICE:-0}" "$@" > "$work/$label.json"
  python3 - "$work/$label.json" "$label" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); g = d["good"]
print("%-26s good client: %d batches, %d attempts (%d retried: %s), p50 %.1f ms, p99 %.1f ms, max %.1f ms; receiver peak RSS %.0f MiB"
      % (sys.argv[2], g["acked"] // 400, g["attempts"], g["retries"], {k: v for k, v in g["codes"].items() if k != "200"},
         g["p50_ms"], g["p99_ms"], g["max_ms"], d["receiverPeakRSSKiB"] / 1024))
a = {k: v for k, v in d["attacks"].items()}
if a: print("%-26s attacks: %s" % ("", json.dumps(a)))
PY
}

if want alone; then
  echo "== ceiling: the well-behaved client alone =="
  run alone --prefix alone
fi
if want idle; then
  echo "== $idle idle connections (kept at that size) + a TLS handshake flood (2 threads) =="
  run idle --prefix idle --idle "$idle" --handshakes 2
fi
if want large; then
  echo "== 8 threads of 4.7 MB batches only =="
  run large --prefix large --large 8
fi
if want all; then
  echo "== idle connections + handshake flood + header floods, bodies over each limit, a gzip bomb, 8 threads of 4.7 MB batches =="
  run all --prefix all --idle "$idle" --handshakes 2 --header-floods --limits --max-events 100000 --large 8
fi
echo "receiver peak RSS over the whole run: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
curl -s "$ops/metrics" | grep -E "^auditseal_connections_(evicted_total|open)" || true
kill -TERM "$pid"; wait "$pid" || true
"$bin" verify "$work/data" --public-key "$work/data/signing.key.pub" | tail -3
