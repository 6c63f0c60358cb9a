#!/usr/bin/env bash
# Installs what wick needs, builds it (build/, Release) and runs the demo: the
# recipe "What is a state_dict", then Fashion-MNIST training with its defaults
# (2 epochs; checkpoint, loss.csv and loss.svg in build/fashion_mnist_out/).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${WICK_SKIP_SETUP:-0}" != 1 ]]; then
  scripts/setup.sh
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target what_is_state_dict fashion_mnist
echo
build/bin/what_is_state_dict
echo
cd build
exec bin/fashion_mnist
