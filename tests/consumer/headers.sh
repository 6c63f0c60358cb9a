#!/usr/bin/env bash
# Checks the public headers: every include/wick/**/*.h is included by the
# umbrella header wick/wick.h, and each one compiles on its own (it includes
# what it uses), warning-free with -Wall -Wextra -Wshadow.
#
#   headers.sh <include dir> <c++ compiler>
set -euo pipefail

include=${1:?usage: headers.sh <include dir> <compiler>}
cxx=${2:-c++}
failures=0

cd "$include"
mapfile -t headers < <(find wick -name '*.h' | sort)
for h in "${headers[@]}"; do
  if [[ $h != wick/wick.h ]] && ! grep -q "^#include \"$h\"" wick/wick.h; then
    echo "FAIL: wick/wick.h does not include $h" >&2
    failures=$((failures + 1))
  fi
done

# One compiler per header, a few at a time.
export cxx
compile_alone() {
  echo "#include \"$1\"" | "$cxx" -std=c++20 -Wall -Wextra -Wshadow -Werror -fsyntax-only -I. -x c++ - ||
    { echo "FAIL: $1 does not compile on its own" >&2; return 1; }
}
export -f compile_alone
# shellcheck disable=SC2016  # $1 is expanded by the inner bash
printf '%s\n' "${headers[@]}" | xargs -P "$(nproc)" -I{} bash -c 'compile_alone "$1"' _ {} ||
  failures=$((failures + 1))

if ((failures)); then
  echo "headers: $failures check(s) failed" >&2
  exit 1
fi
echo "headers: OK (${#headers[@]} headers)"
