#!/usr/bin/env bash
# `make run`: the main job on the local executor. Fisher's linear discriminant on a tall data
# set (2M x 64 float64, two classes; generated once into data/lda/ by `lampy gen`), then a
# short fused-expression demo.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
LAMPY="$BUILD/lampy"
ROWS=${ROWS:-2000000}
FEATURES=${FEATURES:-64}
DATA=data/lda
mkdir -p data

if [ ! -f "$DATA/X.npy" ] || [ ! -f "$DATA/y.npy" ]; then
  echo "== generating $DATA: $ROWS x $FEATURES float64, 2 classes (lampy gen, once) =="
  "$LAMPY" gen --rows "$ROWS" --features "$FEATURES" --classes 2 --sep 1.5 --seed 42 -o "$DATA"
  echo
fi

echo "== lampy fisher $DATA/X.npy $DATA/y.npy --save $DATA/model.npy =="
"$LAMPY" fisher "$DATA/X.npy" "$DATA/y.npy" --save "$DATA/model.npy"
echo
echo "== lampy predict $DATA/model.npy $DATA/X.npy -o $DATA/yhat.npy =="
"$LAMPY" predict "$DATA/model.npy" "$DATA/X.npy" -o "$DATA/yhat.npy"
echo

# a second, shorter job: one fused pass over two arrays
DEMO_ROWS=${DEMO_ROWS:-1000000}
if [ ! -f data/a.npy ] || [ ! -f data/b.npy ]; then
  "$LAMPY" eval "random.uniform(($DEMO_ROWS, 8), seed=1)" -o data/a.npy
  "$LAMPY" eval "random.normal(($DEMO_ROWS, 8), seed=2)" -o data/b.npy
fi
EXPR='where(a > 0.5, sqrt(a), -b).mean(axis=0)'
echo "== lampy eval '$EXPR' a=data/a.npy b=data/b.npy =="
"$LAMPY" eval --stats "$EXPR" a=data/a.npy b=data/b.npy
