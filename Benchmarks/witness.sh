#!/usr/bin/env bash
# Witnessing costs, release build, loopback:
#   1. the witness's cosigning throughput (`auditseal witness`, each add-checkpoint request: parse,
#      verify the log's Ed25519 signature, fsync the state file and its directory, cosign), with 1
#      and 4 keep-alive connections, against the machine's ceilings measured in the same run:
#      `openssl speed ed25519` (sign and verify) and the state write alone (write + fsync + rename +
#      directory fsync, the same sequence in Python);
#   2. the cost of submission on the receiver's ingest: `auditseal-load` saturating `auditseal
#      serve` without witnesses and with one (witnessIntervalSeconds 1: the newest sealed checkpoint
#      is offered every second), alternating, RUNS times each.
# From the repository root:  bash Benchmarks/witness.sh [SECONDS] [RUNS]
set -euo pipefail
secs=${1:-20}
runs=${2:-2}
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; wait; rm -rf "$work"' EXIT  # wait: a daemon still stopping must not lose its directory
for product in auditseal auditseal-bench auditseal-load; do
  swift build -c release --product "$product" 2>&1 | grep -E "error" || true
done
bin=$root/.build/release
"$bin/auditseal" keygen --out "$work/log.pem" >/dev/null
"$bin/auditseal" keygen --out "$work/witness.pem" >/dev/null
wkey=$("$bin/auditseal" witness --key "$work/witness.pem" --data-dir "$work/w" --name bench.witness/w1 --print-key)

echo "== ceilings =="
openssl speed -seconds 3 ed25519 2>/dev/null | grep -E "^ *253 bits" | awk '{print "openssl ed25519: sign " $(NF-1) "/s, verify " $NF "/s"}'
python3 - "$work" <<'PY'
import os, sys, time
d = sys.argv[1] + "/fsync"; os.makedirs(d)
n = 0; t = time.time()
while time.time() - t < 3:
    with open(d + "/state.json.tmp", "w") as f:
        f.write('{"logs":{"x":{"size":1,"root":"%064d"}}}\n' % n); f.flush(); os.fsync(f.fileno())
    os.rename(d + "/state.json.tmp", d + "/state.json")
    fd = os.open(d, os.O_RDONLY); os.fsync(fd); os.close(fd); n += 1
print("state write (write+fsync+rename+dir fsync): %.0f/s" % (n / (time.time() - t)))
PY

# A store with one sealed checkpoint to offer again and again (a re-cosign at the same size).
printf '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"w-1","stage":"ResponseComplete","verb":"get"}\n' > "$work/one.log"
"$bin/auditseal" import --data-dir "$work/store" --signing-key "$work/log.pem" --node bench "$work/one.log" >/dev/null
lkey=$("$bin/auditseal" witness --log-key-for "$work/store" --public-key "$work/log.pem.pub")
"$bin/auditseal" witness --key "$work/witness.pem" --data-dir "$work/w" --name bench.witness/w1 --listen 127.0.0.1:18445 --log "$lkey" \
  > "$work/w.out" 2> "$work/w.err" &
echo $! > "$work/witness.pid"
until grep -q listening "$work/w.out" 2>/dev/null; do sleep 0.2; done
echo "== witness: add-checkpoint (re-cosign at the same size: full verify, fsync'd state, cosign) =="
python3 - "$work/store/segments/000000000001.checkpoint" <<'PY'
import http.client, sys, threading, time
note = open(sys.argv[1]).read()
size = note.split("\n")[1]
def first():
    c = http.client.HTTPConnection("127.0.0.1", 18445); c.request("POST", "/add-checkpoint", ("old 0\n\n" + note).encode()); r = c.getresponse(); r.read()
first()
body = ("old %s\n\n" % size + note).encode()
for conns in (1, 4):
    done = [0] * conns; stop = time.time() + 5
    def worker(i):
        c = http.client.HTTPConnection("127.0.0.1", 18445)
        while time.time() < stop:
            c.request("POST", "/add-checkpoint", body); r = c.getresponse(); r.read()
            assert r.status == 200, r.status
            done[i] += 1
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
    t = time.time(); [x.start() for x in ts]; [x.join() for x in ts]
    print("%d connection(s): %.0f cosignatures/s" % (conns, sum(done) / (time.time() - t)))
PY

echo "== ingest with and without witness submission =="
"$bin/auditseal-bench" --write-eventlist "$work/eventlist.json" >/dev/null
for run in $(seq 1 "$runs"); do
  for mode in none witness; do
    rm -rf "$work/data"
    cfg="$work/serve-$mode.yaml"
    printf 'listen: 127.0.0.1:18080\ndataDir: %s\nverifyIntervalSeconds: 0\nnode: bench\n' "$work/data" > "$cfg"
    if [ "$mode" = witness ]; then
      printf 'witnessIntervalSeconds: 1\nwitnesses:\n  - url: http://127.0.0.1:18446\n    key: "%s"\n' "$wkey" >> "$cfg"
    fi
    "$bin/auditseal" serve --config "$cfg" --log-level warning > "$work/serve.out" 2> "$work/serve.err" &
    echo $! > "$work/serve.pid"
    until grep -q listening "$work/serve.out" 2>/dev/null; do sleep 0.2; done
    if [ "$mode" = witness ]; then
      k=$("$bin/auditseal" witness --log-key-for "$work/data" --public-key "$work/data/signing.key.pub")
      rm -rf "$work/w2"
      "$bin/auditseal" witness --key "$work/witness.pem" --data-dir "$work/w2" --name bench.witness/w1 --listen 127.0.0.1:18446 --log "$k" \
        > "$work/w2.out" 2> "$work/w2.err" &
      echo $! > "$work/witness2.pid"
    fi
    echo "-- run $run, $mode --"
    "$bin/auditseal-load" --template "$work/eventlist.json" --url http://127.0.0.1:18080/v1/audit --connections 8 --seconds "$secs" --pid "$(cat "$work/serve.pid")" | grep -E "events/s"
    kill -TERM "$(cat "$work/serve.pid")"; while kill -0 "$(cat "$work/serve.pid")" 2>/dev/null; do sleep 0.2; done; rm -f "$work/serve.pid"
    if [ "$mode" = witness ]; then
      echo "cosigned checkpoints: $(ls "$work/data/segments" | grep -c cosignature) of $(ls "$work/data/segments" | grep -c manifest.json) manifests"
      kill "$(cat "$work/witness2.pid")"; rm -f "$work/witness2.pid"
    fi
  done
done
