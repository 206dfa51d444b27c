#!/usr/bin/env bash
# Installs what Lampy needs to build, test and benchmark; safe to run again (idempotent).
# Debian packages through apt-get; Python packages through pip into .venv (created here).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential pkg-config meson ninja-build
      libopenblas-dev liblapacke-dev libfftw3-dev
      libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libhiredis-dev libxxhash-dev
      zlib1g-dev libzstd-dev libblosc-dev libgnutls28-dev
      redis-server graphviz nginx openssl
      clang libclang-rt-dev)   # the fuzz harnesses (libFuzzer, ASan, UBSan) and the clang build

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Packages such as nginx and redis-server start a system service when installed; the tests
  # start their own on loopback ports, so installing must not start one (policy-rc.d says no).
  rcd=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    rcd=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$rcd" >/dev/null && $SUDO chmod +x "$rcd"
  fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ -n "$rcd" ] && $SUDO rm -f "$rcd"
fi

# Python: a venv for the extension module and the tests; bench extras only when asked.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
want=(numpy pytest meson-python meson ninja scikit-learn zarr "moto[server]" boto3)
[ "${LAMPY_BENCH_DEPS:-0}" = 1 ] && want+=(numexpr "dask[array]" psutil jax scipy)
need=()
for m in "${want[@]}"; do
  mod=${m%%[*}; mod=${mod//-/_}
  case $mod in meson_python) mod=mesonpy;; meson) mod=mesonbuild;; scikit_learn) mod=sklearn;; moto) mod=moto.server;; esac
  .venv/bin/python -c "import $mod" 2>/dev/null || need+=("$m")
done
if ((${#need[@]})); then
  echo "deps: pip installing ${need[*]}"
  .venv/bin/python -m pip install -q --disable-pip-version-check "${need[@]}"
fi
