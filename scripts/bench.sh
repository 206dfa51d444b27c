#!/usr/bin/env bash
# `make bench`: the side-by-side benchmarks (bench/harness.py, bench/bench_lda.py) against NumPy,
# numexpr, Dask, JAX and scikit-learn,
# run on the build in $1 (default build/). Extra arguments go to the harness, e.g.
#   ./scripts/bench.sh build --reps 3 --only 1,3 --no-write
# The table is printed and written into docs/PERFORMANCE.md between the bench markers.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
PY=.venv/bin/python
[ -x "$PY" ] || { echo "bench: $PY missing; run LAMPY_BENCH_DEPS=1 ./scripts/deps.sh" >&2; exit 1; }
# the benchmark executables (bench/meson.build) and the Python extension of this build
ninja -C "$BUILD" bench/lampy-triad bench/lampy-overhead bench/lampy-bench-loop >/dev/null
ninja -C "$BUILD" >/dev/null
LAMPY_BENCH_VIA_MAKE=1 "$PY" bench/harness.py --build "$BUILD" "$@"
# Fisher LDA beside NumPy, Dask, JAX and scikit-learn (2M x 64; the data are generated once)
case " $* " in
  *" --no-write "*) "$PY" bench/bench_lda.py --lampy "$BUILD/lampy" --only 2000000x64 ;;
  *) "$PY" bench/bench_lda.py --lampy "$BUILD/lampy" --only 2000000x64 --doc docs/PERFORMANCE.md ;;
esac
# reading data: slices, nginx, S3 (moto), Zarr (its own table in docs/PERFORMANCE.md)
case " $* " in
  *" --no-write "*) [ "${LAMPY_BENCH_DATA:-1}" = 1 ] && "$PY" bench/bench_data.py ;;
  *) [ "${LAMPY_BENCH_DATA:-1}" = 1 ] && "$PY" bench/bench_data.py --write ;;
esac
# loops inside the graph: per-iteration overhead, k-means and logistic regression 2M x 32 beside
# scikit-learn and NumPy, peak RSS (printed; the coordinator copies the table)
"$PY" bench/bench_loops.py --build "$BUILD"
exit 0
