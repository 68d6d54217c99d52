#!/usr/bin/env bash
# Forwarding benchmarks (docs/PERFORMANCE.md "Forwarding"), each a ratio measured in one sitting:
#   1. drain: a backlog of BACKLOG events (default 1,000,000) drains into each Fluent Bit input
#      (http, splunk, elasticsearch, opentelemetry), against that input's ceiling: the same request
#      bodies (captured from the sink) sent by auditseal-load on 2 connections for SECONDS.
#   2. ingest cost: saturated ingest (8 connections, SECONDS) with three sinks following it
#      (webhook, splunk-hec, elasticsearch into Fluent Bit) against none.
#   3. catch-up: a sink down while CATCHUP events arrive (an hour at 4 000 events/s is 14 400 000;
#      the backlog is built at full speed rather than in an hour), then back while ingest goes on at
#      4 000 events/s: the time until its lag is 0.
# Fluent Bit's inputs feed its null output (the counts come from the sink's cursor). Needs Fluent Bit
# (AUDITSEAL_FLUENT_BIT, or ../shared/tools/fluent-bit/fluent-bit) and python3. From the repository root:
#   bash Benchmarks/forward.sh [BACKLOG] [SECONDS] [CATCHUP]      (CATCHUP 0 skips part 3)
#   PARTS=3 bash Benchmarks/forward.sh 0 0 14400000                (only part 3)
set -euo pipefail
backlog=${1:-1000000}
secs=${2:-15}
catchup=${3:-14400000}
root=$(pwd)
fb=${AUDITSEAL_FLUENT_BIT:-$root/../shared/tools/fluent-bit/fluent-bit}
[ -x "$fb" ] || { echo "no Fluent Bit at $fb (set AUDITSEAL_FLUENT_BIT)"; exit 2; }
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; wait; rm -rf "$work"' EXIT

for product in auditseal auditseal-bench auditseal-load; do
  swift build -c release --product "$product" 2>&1 | grep -E "error" || true
done
bin=$root/.build/release
"$bin/auditseal-bench" --write-eventlist "$work/eventlist.json" >/dev/null
export FB_HTTP_PORT=19880 FB_SPLUNK_PORT=19881 FB_ES_PORT=19882 FB_OTLP_PORT=19883 FB_METRICS_PORT=19884 \
       FB_SPLUNK_TOKEN=bench-token FB_OUT=$work/fb-out
echo bench-token > "$work/hec.token"

# The four inputs of the shipped sinks.yaml, each into Fluent Bit's null output: what is measured
# is what an input accepts. (With the file outputs, formatting the records took more of the two
# cores than the inputs; during a ceiling run that work is deferred, during a drain it competes.)
python3 - "$(dirname "$fb")/sinks.yaml" "$work/fb.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
open(sys.argv[2], 'w').write(text[:text.index('  outputs:')] + "  outputs:\n    - name: 'null'\n      match: '*'\n")
PY
fb_start() {
  rm -rf "$FB_OUT"; mkdir -p "$FB_OUT"
  ${FB_NICE:+nice -n "$FB_NICE"} "$fb" -c "$work/fb.yaml" > "$work/fb.log" 2>&1 &
  echo $! > "$work/fb.pid"
  until curl -s -o /dev/null "http://127.0.0.1:$FB_METRICS_PORT/"; do sleep 0.2; done
}
fb_stop() { kill "$(cat "$work/fb.pid")"; wait "$(cat "$work/fb.pid")" 2>/dev/null || true; rm -f "$work/fb.pid"; }

# serve DATA CONFIG: starts the receiver on 18080 (and ops on 18090), returns once it listens.
serve() {
  local args=(serve --listen 127.0.0.1:18080 --ops-listen 127.0.0.1:18090 --data-dir "$1" --verify-interval-seconds 0 --log-level warning)
  [ -n "${2:-}" ] && args+=(--config "$2")
  "$bin/auditseal" "${args[@]}" > "$work/serve.out" 2> "$work/serve.err" &
  echo $! > "$work/serve.pid"
  until grep -q "ops " "$work/serve.out" 2>/dev/null; do sleep 0.2; done
}
serve_stop() { kill -TERM "$(cat "$work/serve.pid")"; wait "$(cat "$work/serve.pid")" 2>/dev/null || true; rm -f "$work/serve.pid"; }
# The cursor file's "next", read by bash itself: polling with a python3 (or grep) every 0.2 s took a
# tenth of the two cores from the sink being measured.
cursor() { local text=; [ -f "$1" ] && read -r text < "$1"; [[ $text =~ \"next\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0; }
sinks() {  # sinks NAME:TYPE:URL... -> a config file
  local file=$work/sinks-$RANDOM.yaml
  echo "sinks:" > "$file"
  for s in "$@"; do
    IFS='|' read -r name type url <<< "$s"
    echo "  - {name: $name, type: $type, url: \"$url\", tokenFile: $work/hec.token}" >> "$file"
  done
  echo "$file"
}
url_of() {
  case $1 in
    webhook) echo "http://127.0.0.1:$FB_HTTP_PORT/" ;;
    splunk-hec) echo "http://127.0.0.1:$FB_SPLUNK_PORT/services/collector/event" ;;
    elasticsearch) echo "http://127.0.0.1:$FB_ES_PORT" ;;
    otlp) echo "http://127.0.0.1:$FB_OTLP_PORT/v1/logs" ;;
  esac
}
types=${TYPES:-webhook splunk-hec elasticsearch otlp}  # TYPES=otlp: one protocol only

parts=${PARTS:-123}
if [[ $parts == *1* || $parts == *2* ]]; then
echo "== backlog: $backlog events stored with no sink =="
serve "$work/data"
"$bin/auditseal-load" --url http://127.0.0.1:18080/v1/audit --template "$work/eventlist.json" --connections 8 --events "$backlog" | head -1
serve_stop
stored=$(python3 -c 'import json,glob; print(max(json.load(open(f))["treeSize"] for f in glob.glob("'"$work"'/data/segments/*.manifest.json")))')
echo "stored: $stored events"

echo "== the sink's request bodies, captured (500 events each) =="
cat > "$work/capture.py" <<'PY'
import http.server, os, sys
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        name = os.path.join(out, self.path.strip('/').replace('/', '_') or 'root')
        if not os.path.exists(name + '.body'):
            open(name + '.type', 'w').write(self.headers['Content-Type'])
            open(name + '.tmp', 'wb').write(body); os.rename(name + '.tmp', name + '.body')
        answer = b'{"errors":false,"items":[]}'
        self.send_response(503); self.send_header('Content-Length', str(len(answer))); self.end_headers(); self.wfile.write(answer)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', 19890), H).serve_forever()
PY
mkdir -p "$work/captured"
python3 "$work/capture.py" "$work/captured" & echo $! > "$work/capture.pid"
serve "$work/data" "$(sinks "cap-webhook|webhook|http://127.0.0.1:19890/webhook" "cap-hec|splunk-hec|http://127.0.0.1:19890/services/collector/event" \
  "cap-es|elasticsearch|http://127.0.0.1:19890/es" "cap-otlp|otlp|http://127.0.0.1:19890/v1/logs")"
until [ "$(ls "$work"/captured/*.body 2>/dev/null | wc -l)" = 4 ]; do sleep 0.2; done
serve_stop; kill "$(cat "$work/capture.pid")"; rm -f "$work/capture.pid" "$work"/data/sinks/cap-*
declare -A body=([webhook]=webhook [splunk-hec]=services_collector_event [elasticsearch]=es__bulk [otlp]=v1_logs)

echo "== 1. drain of the backlog into each Fluent Bit input, against its ceiling =="
fb_start
for t in $types; do
  b=$work/captured/${body[$t]}
  path=$(url_of "$t"); [ "$t" = elasticsearch ] && path=$path/_bulk
  ceiling_of() {
    "$bin/auditseal-load" --url "$path" --template "$b.body" --events-per-body 500 --content-type "$(cat "$b.type")" \
      --header "Authorization: Splunk bench-token" --connections "$1" --seconds "$secs" | head -1 | sed 's/.*events\/s: \([0-9]*\).*/\1/'
  }
  ceiling=$(ceiling_of 2)
  # A sink sends in chain order, one request at a time: the same generator on one connection.
  ceiling1=$(ceiling_of 1)
  serve "$work/data" "$(sinks "drain-$t|$t|$(url_of "$t")")"
  start=$(date +%s.%N)
  until [ "$(cursor "$work/data/sinks/drain-$t.cursor")" -ge "$stored" ]; do sleep 0.2; done
  end=$(date +%s.%N)
  serve_stop
  python3 -c "n=$stored; t=$end-$start; c=$ceiling; c1=$ceiling1; print(f'$t: drained {n} events in {t:.1f} s = {n/t:.0f} events/s; ceiling {c} events/s (2 connections), {c1} (1 connection); ratio {n/t/c:.2f}, {n/t/c1:.2f}')"
done

echo "== 2. saturated ingest ($secs s, 8 connections): no sink, then three sinks following it =="
# Twice: with Fluent Bit (the receivers, which in production run elsewhere) at normal priority on
# these two cores, and at nice 19 so that what remains is auditseal's own cost.
for fbnice in 0 19; do
  fb_stop; FB_NICE=$fbnice fb_start
  for variant in none three; do
    rm -rf "$work/ingest"
    if [ $variant = none ]; then serve "$work/ingest"; else
      serve "$work/ingest" "$(sinks "w|webhook|$(url_of webhook)" "h|splunk-hec|$(url_of splunk-hec)" "e|elasticsearch|$(url_of elasticsearch)")"; fi
    echo "-- Fluent Bit nice $fbnice, $variant: $("$bin/auditseal-load" --url http://127.0.0.1:18080/v1/audit --template "$work/eventlist.json" --connections 8 --seconds "$secs" --pid "$(cat "$work/serve.pid")" | head -1)"
    serve_stop
  done
done
fb_stop

fi

if [ "$catchup" != 0 ] && [[ $parts == *3* ]]; then
  echo "== 3. a sink down while $catchup events arrive, then back with ingest at 4000 events/s =="
  rm -rf "$work/data"
  config=$(sinks "late|webhook|$(url_of webhook)")
  serve "$work/data" "$config"
  "$bin/auditseal-load" --url http://127.0.0.1:18080/v1/audit --template "$work/eventlist.json" --connections 8 --events "$catchup" | head -1
  fb_start
  start=$(date +%s.%N)
  "$bin/auditseal-load" --url http://127.0.0.1:18080/v1/audit --template "$work/eventlist.json" --rate 4000 --seconds 100000 > "$work/paced.out" &
  echo $! > "$work/paced.pid"
  sleep 1
  # Caught up: less than one second of events behind.
  until [ "$(curl -s http://127.0.0.1:18090/metrics | awk '/^auditseal_sink_lag_events\{sink="late"\}/ {print int($2)}')" -lt 4000 ] 2>/dev/null; do sleep 0.5; done
  end=$(date +%s.%N)
  kill "$(cat "$work/paced.pid")"; rm -f "$work/paced.pid"
  echo "caught up with $catchup events of backlog while 4000 events/s arrived: $(python3 -c "print(f'{$end-$start:.0f}')") s"
  serve_stop; fb_stop
fi
