#!/usr/bin/env bash
# Runs every test (C unit tests through meson, then pytest) and prints one closing line
# "N passed, N failed" summing both.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
# the built-in machine profile for every process (a file that does not exist): plans do not
# depend on the machine, and no process pays the machine probe (src/exec/probe.c)
export LAMPY_PROFILE="$log/no-profile.json"

# layers point one way (includes and, from the built objects, calls)
lpass=0; lfail=0
if python3 scripts/check_layers.py "$BUILD"; then lpass=1; else lfail=1; fi

cpass=0; cfail=0
meson test -C "$BUILD" --print-errorlogs --num-processes 2 --timeout-multiplier 4 | tee "$log/c.txt"
rc_c=${PIPESTATUS[0]}
# each C test binary prints "name: N passed, N failed"
while read -r p f; do cpass=$((cpass + p)); cfail=$((cfail + f)); done < <(
  grep -hoE '^[a-z_0-9]+: [0-9]+ passed, [0-9]+ failed' "$BUILD"/meson-logs/testlog.txt |
  sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1 \2/')
[ "$rc_c" -ne 0 ] && [ "$cfail" -eq 0 ] && cfail=1   # a crash counts as a failure

# The clang build of the library and the fuzz harnesses (build-fuzz): every corpus input and
# every past crash replayed under ASan + UBSan; also proves the library compiles with clang
# without warnings (-Werror).
fpass=0; ffail=0
./scripts/fuzz.sh replay | tee "$log/fuzz.txt"
rc_f=${PIPESTATUS[0]}
while read -r p f; do fpass=$((fpass + p)); ffail=$((ffail + f)); done < <(
  grep -oE '^fuzz_[a-z]+: [0-9]+ passed, [0-9]+ failed' "$log/fuzz.txt" |
  sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1 \2/')
[ "$rc_f" -ne 0 ] && [ "$ffail" -eq 0 ] && ffail=1

ppass=0; pfail=0; rc_p=0
if compgen -G 'tests/py/test_*.py' >/dev/null || compgen -G 'tests/integration/test_*.py' >/dev/null; then
  ./scripts/pybuild.sh "$BUILD" || { echo "python module build failed"; pfail=1; rc_p=1; }
  if [ "$rc_p" -eq 0 ]; then
    LAMPY_BIN="$PWD/$BUILD/lampy" .venv/bin/python -m pytest -q $(ls -d tests/py tests/integration 2>/dev/null) \
        -p no:cacheprovider | tee "$log/py.txt"
    rc_p=${PIPESTATUS[0]}
    [ "$rc_p" -eq 5 ] && rc_p=0   # no tests collected is not a failure
    ppass=$(grep -oE '[0-9]+ passed' "$log/py.txt" | tail -1 | grep -oE '[0-9]+' || echo 0)
    pfail=$(grep -oE '[0-9]+ (failed|error)' "$log/py.txt" | awk '{s+=$1} END {print s+0}')
    [ "$rc_p" -ne 0 ] && [ "$pfail" -eq 0 ] && pfail=1
  fi
fi
echo
echo "C: $cpass checks passed, $cfail failed; fuzz replay: $fpass harnesses passed, $ffail failed; Python: $ppass passed, $pfail failed"
echo "$((cpass + fpass + ppass + lpass)) passed, $((cfail + ffail + pfail + lfail)) failed"
[ "$rc_c" -eq 0 ] && [ "$rc_f" -eq 0 ] && [ "$rc_p" -eq 0 ] && [ "$cfail" -eq 0 ] && [ "$ffail" -eq 0 ] && [ "$pfail" -eq 0 ] && [ "$lfail" -eq 0 ]
