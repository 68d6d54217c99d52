#!/usr/bin/env bash
# A/B of the receiver between two builds in one sitting, alternating A and B each round: saturated
# (8 connections) and paced at 4 000 events/s (the API server's default), fsync before every answer.
#   bash Benchmarks/ab.sh DIR_A DIR_B [ROUNDS] [SECONDS] [-- EXTRA SERVE FLAGS]
# Each DIR holds release binaries auditseal and auditseal-load (and auditseal-bench, from DIR_B, for
# the body), e.g. from `git worktree add /tmp/a COMMIT && (cd /tmp/a && swift build -c release)`.
# A_FLAGS / B_FLAGS add serve flags to one side only: the same build without and with a feature,
#   A_FLAGS= B_FLAGS="--config reconcile.yaml" bash Benchmarks/ab.sh BIN BIN 4 20
# Prints one line per run; compare the means (runs drift by ±10 % on a shared machine).
set -euo pipefail
a=$1; b=$2; rounds=${3:-3}; secs=${4:-15}
shift $(( $# < 4 ? $# : 4 )); [ "${1:-}" = "--" ] && shift
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait; rm -rf "$work"' EXIT
"$b/auditseal-bench" --write-eventlist "$work/eventlist.json" >/dev/null
run() {  # NAME DIR
  local name=$1 bin=$2 port=18090
  shift 2
  rm -rf "$work/data"
  "$bin/auditseal" serve --listen 127.0.0.1:$port --data-dir "$work/data" --verify-interval-seconds 0 --log-level warning "$@" \
    > "$work/serve.out" 2> "$work/serve.err" &
  local pid=$!
  until grep -q listening "$work/serve.out" 2>/dev/null; do sleep 0.2; done
  for mode in "--connections 8" "--rate 4000"; do
    # shellcheck disable=SC2086
    echo "$name $mode: $("$b/auditseal-load" --template "$work/eventlist.json" --url http://127.0.0.1:$port/v1/audit $mode --seconds "$secs" --pid $pid 2>&1 \
      | tr '\n' ' ' | sed -E 's/requests: [0-9]+ in [0-9.]+ s = [0-9.]+\/s; //; s/body [0-9]+ bytes, [0-9]+ events latency ms: //')"
  done
  kill -TERM $pid; wait $pid || true
}
for _ in $(seq 1 "$rounds"); do
  # shellcheck disable=SC2086
  run A "$a" "$@" ${A_FLAGS:-}
  # shellcheck disable=SC2086
  run B "$b" "$@" ${B_FLAGS:-}
done
