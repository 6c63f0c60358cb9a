#!/usr/bin/env bash
# Installs what wick needs, builds it (build/, Release) and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${WICK_SKIP_SETUP:-0}" != 1 ]]; then
  scripts/setup.sh
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target what_is_state_dict
echo
exec build/bin/what_is_state_dict
