#!/usr/bin/env bash
# Builds wick and runs every test: the command the README gives and CI runs.
#
#   scripts/test.sh               normal suite (build/, Release), then the
#                                 sanitizer suite (build-asan/)
#   scripts/test.sh --normal      normal suite only
#   scripts/test.sh --sanitize    sanitizer suite only (also: WICK_SANITIZE=1)
#   scripts/test.sh -- -R Tensor  extra arguments after -- go to ctest
#
# The sanitizer suite builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer (-DWICK_SANITIZE=ON, -O1 -g1) and stops at
# the first report. It leaves out the tests labelled in
# WICK_SANITIZE_EXCLUDE_LABELS (a ctest regex, default "install|headers|models":
# those check packaging, headers and whole-model numerics, which sanitizers do
# not change; the models' ops run there in the unit tests).
#
# Tests labelled `slow` (the deeper ResNets and the VGGs against torchvision,
# minutes each) run only with WICK_TEST_SLOW=1.
#
# Environment: WICK_TEST_JOBS (ctest -j, default 2), WICK_SKIP_SETUP=1 (do not
# run scripts/setup.sh).
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."

stages=(normal sanitize)
case "${WICK_SANITIZE:-}" in
  1 | ON | on | true) stages=(sanitize) ;;
  0 | OFF | off | false) stages=(normal) ;;
esac
ctest_args=()
while (($#)); do
  case "$1" in
    --normal) stages=(normal) ;;
    --sanitize) stages=(sanitize) ;;
    --all) stages=(normal sanitize) ;;
    --) shift; ctest_args=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument '$1' (see scripts/test.sh --help)" >&2; exit 2 ;;
  esac
  shift
done
jobs=${WICK_TEST_JOBS:-2}

start=$SECONDS
elapsed() { printf '%dm%02ds' $(((SECONDS - start) / 60)) $(((SECONDS - start) % 60)); }
# shellcheck disable=SC2154  # status is assigned inside the trap
trap 'status=$?; ((status == 0)) || echo "=== FAILED (exit $status) after $(elapsed)" >&2' EXIT

if [[ "${WICK_SKIP_SETUP:-0}" != 1 ]]; then
  scripts/setup.sh
fi

run_stage() {
  local stage=$1 dir
  local configure=(-G Ninja) exclude=()
  if [[ $stage == normal ]]; then
    dir=build
    configure+=(-DCMAKE_BUILD_TYPE=Release -DWICK_SANITIZE=OFF)
    if [[ "${WICK_TEST_SLOW:-0}" != 1 ]]; then exclude=(-LE slow); fi
  else
    dir=build-asan
    # Benchmarks measure nothing useful under sanitizers; skip building them.
    # -O1 -g1 (line tables for the reports' stack traces) compiles in about
    # 40% of the time of -O2 -g, which made this stage's build most of CI.
    configure+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
      -DWICK_SANITIZE=ON -DWICK_BUILD_BENCH=OFF)
    local labels=${WICK_SANITIZE_EXCLUDE_LABELS-install|headers|models}
    if [[ "${WICK_TEST_SLOW:-0}" != 1 ]]; then labels=${labels:+$labels|}slow; fi
    if [[ -n $labels ]]; then exclude=(-LE "$labels"); fi
  fi

  echo "=== [$stage] configure and build $dir/ ($(elapsed))"
  cmake -S . -B "$dir" "${configure[@]}" >/dev/null
  cmake --build "$dir"
  echo "=== [$stage] ctest ($(elapsed))"
  if [[ $stage == sanitize ]]; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir "$dir" --output-on-failure -j"$jobs" "${exclude[@]}" "${ctest_args[@]}"
  else
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" "${exclude[@]}" "${ctest_args[@]}"
  fi
  echo "=== [$stage] passed ($(elapsed))"
}

for stage in "${stages[@]}"; do
  run_stage "$stage"
done
echo "=== all passed: ${stages[*]} in $(elapsed)"
