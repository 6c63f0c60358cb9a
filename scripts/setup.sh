#!/usr/bin/env bash
# Installs every Debian 12 package wick needs to build, test and run: the
# toolchain, its libraries, PyTorch + torchvision + NumPy for the interop
# tests, libtorch's C++ headers for the benchmark peer bench/libtorch_seed_net
# and tests/io/libtorch_archives (small next to python3-torch, whose
# libtorch1.13 it shares), clang with libFuzzer for the
# fuzz targets (scripts/fuzz.sh), and the Fashion-MNIST dataset for the
# training demo.
# Idempotent: when everything is present it changes nothing and needs no
# network. Runs as root, or through sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libopenblas-dev zlib1g-dev nlohmann-json3-dev libcli11-dev libjpeg62-turbo-dev libpng-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-torch python3-torchvision python3-numpy libtorch-dev
  clang-format clang-14 libclang-rt-14-dev
  dataset-fashion-mnist
)

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "setup: not a Debian system; install the equivalents of: ${packages[*]}" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  "${missing[@]}"
