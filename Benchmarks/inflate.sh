#!/usr/bin/env bash
# Inflate throughput of zlib, libdeflate and ISA-L on a store's sealed segments (standard gzip),
# each library on the same files, best of REPEAT runs, outputs checked equal (size and CRC-32).
# Needs: apt-get install -y libdeflate-dev libisal-dev zlib1g-dev gcc
# From the repository root:  bash Benchmarks/inflate.sh DATA_DIR [REPEAT]
set -euo pipefail
dir=${1:?usage: inflate.sh DATA_DIR [REPEAT]}
repeat=${2:-5}
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
gcc -O2 -o "$bin" "$(dirname "$0")/inflate/inflate_bench.c" -lz -ldeflate -lisal
"$bin" "$repeat" "$dir"/segments/*.jsonl.gz
