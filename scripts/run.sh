#!/usr/bin/env bash
# `make run`: the main job on the local executor. Generates its input data once (data/), then
# evaluates a fused expression over it and prints the result and the timing.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
LAMPY="$BUILD/lampy"
mkdir -p data
ROWS=${ROWS:-4000000}
if [ ! -f data/a.npy ] || [ ! -f data/b.npy ]; then
  echo "generating data/a.npy and data/b.npy ($ROWS x 8 float64 each) ..."
  "$LAMPY" eval "random.uniform(($ROWS, 8), seed=1)" -o data/a.npy
  "$LAMPY" eval "random.normal(($ROWS, 8), seed=2)" -o data/b.npy
fi
EXPR='where(a > 0.5, sqrt(a), -b).mean(axis=0)'
echo "lampy eval '$EXPR' a=data/a.npy b=data/b.npy"
"$LAMPY" eval --stats "$EXPR" a=data/a.npy b=data/b.npy
