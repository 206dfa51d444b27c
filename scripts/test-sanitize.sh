#!/usr/bin/env bash
# `make test-asan`: every C test under AddressSanitizer + UndefinedBehaviorSanitizer (leak
# checking on), then the thread-pool/executor tests under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C build-asan >/dev/null
meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 10
if [ ! -f build-tsan/build.ninja ]; then
  meson setup build-tsan --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false >/dev/null
fi
ninja -C build-tsan >/dev/null
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 meson test -C build-tsan --print-errorlogs \
  --timeout-multiplier 10 run
