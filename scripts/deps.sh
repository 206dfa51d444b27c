#!/usr/bin/env bash
# Installs what Lampy needs to build, test and benchmark; safe to run again (idempotent).
# Debian packages through apt-get; Python packages through pip into .venv (created here).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential pkg-config meson ninja-build
      libopenblas-dev liblapacke-dev
      libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libhiredis-dev libxxhash-dev
      redis-server graphviz
      clang libclang-rt-dev)   # the fuzz harnesses (libFuzzer, ASan, UBSan) and the clang build

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python: a venv for the extension module and the tests; bench extras only when asked.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
want=(numpy pytest meson-python meson ninja scikit-learn)
[ "${LAMPY_BENCH_DEPS:-0}" = 1 ] && want+=(numexpr "dask[array]" psutil)
need=()
for m in "${want[@]}"; do
  mod=${m%%[*}; mod=${mod//-/_}
  case $mod in meson_python) mod=mesonpy;; meson) mod=mesonbuild;; scikit_learn) mod=sklearn;; esac
  .venv/bin/python -c "import $mod" 2>/dev/null || need+=("$m")
done
if ((${#need[@]})); then
  echo "deps: pip installing ${need[*]}"
  .venv/bin/python -m pip install -q --disable-pip-version-check "${need[@]}"
fi
