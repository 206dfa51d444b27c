#!/usr/bin/env bash
# The libFuzzer harnesses of tests/fuzz (docs/SECURITY.md, "Fuzzing"), built with clang, ASan and
# UBSan in build-fuzz (undefined behaviour aborts; every object carries coverage).
#
#   scripts/fuzz.sh build            configure build-fuzz if needed and build the harnesses
#   scripts/fuzz.sh replay           run every harness on each file of tests/fuzz/corpus/<t>/ and
#                                    tests/fuzz/regressions/<t>/ (what `make test` does)
#   scripts/fuzz.sh run [T...]       fuzz each harness (default: all) for $FUZZ_SECONDS (default 60)
#                                    or $FUZZ_RUNS executions; new inputs go to build-fuzz/corpus/<t>,
#                                    crashes to build-fuzz/artifacts/<t>/; prints a summary line each
#   scripts/fuzz.sh minimize [T...]  merge build-fuzz/corpus/<t> into a minimized tests/fuzz/corpus/<t>
set -uo pipefail
cd "$(dirname "$0")/.."
B=build-fuzz
TARGETS=(npy graph wire worker expr http store)
CC_FUZZ=${CC_FUZZ:-clang}

# Per harness libFuzzer options. A hang is a failure: -timeout. The HTTP harness's servers free
# a connection's memory on their own threads, after the client has seen the close, so per-input
# leak checks would fire on every input; LeakSanitizer still checks the whole run at exit.
opts() {
  case $1 in
    http) echo "-timeout=120 -detect_leaks=0 -rss_limit_mb=4096" ;;
    *) echo "-timeout=30" ;;
  esac
}

build() {
  if [ ! -f $B/build.ninja ]; then
    CC=$CC_FUZZ meson setup $B -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
      -Doptimization=1 -Ddebug=true -Db_ndebug=false -Dwerror=true >/dev/null || return 1
  fi
  ninja -C $B fuzzers >/dev/null || ninja -C $B fuzzers
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

replay() {
  local bad=0
  for t in "${TARGETS[@]}"; do
    mapfile -t files < <(find tests/fuzz/corpus/$t tests/fuzz/regressions/$t -type f 2>/dev/null | sort)
    local log
    log=$(mktemp)
    if ((${#files[@]} == 0)); then
      echo "fuzz_$t: 0 passed, 1 failed (no inputs)"; bad=1; continue
    fi
    # files (not directories): libFuzzer runs each once and writes nothing
    if $B/tests/fuzz/fuzz_$t $(opts $t) "${files[@]}" >"$log" 2>&1; then
      echo "fuzz_$t: 1 passed, 0 failed (${#files[@]} inputs)"
    else
      echo "fuzz_$t: 0 passed, 1 failed (after $(grep -c '^Executed ' "$log") of ${#files[@]} inputs)"
      grep -m1 -B2 -A30 'ERROR\|runtime error\|deadly signal' "$log" | head -60
      bad=1
    fi
    rm -f "$log"
  done
  return $bad
}

# "#12345 DONE cov: 1042 ft: 2908 corp: 326/340Kb lim: 4096 exec/s: 3312 rss: 140Mb"
summary() {
  local t=$1 log=$2 rc=$3
  local done execs eps cov ft
  done=$(grep -E '^#[0-9]+\s+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
  execs=$(grep -oE '^stat::number_of_executed_units:\s*[0-9]+' "$log" | grep -oE '[0-9]+$')
  eps=$(grep -oE '^stat::average_exec_per_sec:\s*[0-9]+' "$log" | grep -oE '[0-9]+$')
  cov=$(echo "$done" | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+')
  ft=$(echo "$done" | grep -oE 'ft: [0-9]+' | grep -oE '[0-9]+')
  local crashes
  crashes=$(find $B/artifacts/$t -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null | wc -l)
  printf 'fuzz_%-7s executions %-10s exec/s %-6s edges(cov) %-6s features %-6s crashes %s%s\n' \
    "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$crashes" "$([ "$rc" -ne 0 ] && echo " (exit $rc)")"
}

run() {
  local bad=0 ts=("$@")
  ((${#ts[@]})) || ts=("${TARGETS[@]}")
  for t in "${ts[@]}"; do
    mkdir -p $B/corpus/$t $B/artifacts/$t $B/logs
    local log=$B/logs/$t.log limit
    if [ -n "${FUZZ_RUNS:-}" ]; then limit="-runs=$FUZZ_RUNS"; else limit="-max_total_time=${FUZZ_SECONDS:-60}"; fi
    # the first directory receives new inputs; the checked-in corpus and regressions seed it
    local seeds=()
    for d in tests/fuzz/corpus/$t tests/fuzz/regressions/$t; do [ -d $d ] && seeds+=($d); done
    # the servers of fuzz_http log every malformed request on stderr: keep the log small
    # (libFuzzer's and the sanitizers' reports still come through)
    local quiet=
    [ $t = http ] && quiet=-close_fd_mask=2
    $B/tests/fuzz/fuzz_$t $(opts $t) $quiet $limit -print_final_stats=1 -artifact_prefix=$B/artifacts/$t/ \
      $B/corpus/$t "${seeds[@]}" >"$log" 2>&1
    local rc=$?
    summary "$t" "$log" $rc
    [ $rc -ne 0 ] && bad=1
  done
  return $bad
}

minimize() {
  local ts=("$@")
  ((${#ts[@]})) || ts=("${TARGETS[@]}")
  for t in "${ts[@]}"; do
    local new=$B/min/$t
    mkdir -p $B/logs
    rm -rf "$new"; mkdir -p "$new" $B/corpus/$t
    $B/tests/fuzz/fuzz_$t $(opts $t) -merge=1 -use_counters=0 "$new" tests/fuzz/corpus/$t $B/corpus/$t >$B/logs/min-$t.log 2>&1 ||
      { echo "minimize $t failed: see $B/logs/min-$t.log"; return 1; }
    rm -rf tests/fuzz/corpus/$t && mkdir -p tests/fuzz/corpus/$t && cp "$new"/* tests/fuzz/corpus/$t/
    echo "corpus/$t: $(ls tests/fuzz/corpus/$t | wc -l) files, $(du -sb tests/fuzz/corpus/$t | cut -f1) bytes"
  done
}

cmd=${1:-run}; shift || true

case $cmd in
  build) build ;;
  replay) build && replay ;;
  run) build && run "$@" ;;
  minimize) build && minimize "$@" ;;
  *) echo "usage: scripts/fuzz.sh build|replay|run [TARGET...]|minimize [TARGET...]" >&2; exit 2 ;;
esac
