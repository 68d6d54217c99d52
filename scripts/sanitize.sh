#!/usr/bin/env bash
# The test suite under a sanitizer, daemon included: the tests run the `auditseal` built beside
# them (TestSupport.product), so a sanitized build's tests start a sanitized receiver, and any
# report from it ends that process with a failure the tests see.
#   bash scripts/sanitize.sh thread|address [FILTER]
# Builds into .build-tsan / .build-asan (the normal .build is left alone).
set -euo pipefail
kind=${1:?thread or address}
filter=${2:-}
case $kind in thread|address) ;; *) echo "usage: $0 thread|address [FILTER]" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scratch=.build-tsan
[ "$kind" = address ] && scratch=.build-asan
swift build --build-tests --sanitize="$kind" --scratch-path "$scratch" 2>&1 | grep -E "error:|Build complete" || true
# Every sanitized process stops at its first report with a distinctive exit status (66), and the
# LD_PRELOAD fault interposer may come before the sanitizer's runtime.
export AUDITSEAL_SANITIZER=$kind
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="halt_on_error=1 exitcode=66 detect_leaks=0 verify_asan_link_order=0 ${ASAN_OPTIONS:-}"
args=(--testing-library swift-testing)
[ -n "$filter" ] && args+=(--filter "$filter")
"$scratch/debug/auditsealPackageTests.xctest" "${args[@]}"
