#!/usr/bin/env bash
# Runs one libFuzzer target of tests/fuzz for a while, on one core.
#
#   scripts/fuzz.sh TARGET SECONDS [LIBFUZZER_ARGS...]
#   scripts/fuzz.sh --list
#
# Configures and builds build-fuzz/ (clang, -DWICK_FUZZ=ON: ASan + UBSan +
# coverage) when needed, seeds build-fuzz/corpus/TARGET from
# tests/fuzz/seeds/TARGET and the fixtures that fit, runs the target and prints
# libFuzzer's final stats (executions, exec/s) and coverage (cov:, ft:).
# Crashing, hanging or leaking inputs are saved in build-fuzz/crashes/TARGET/;
# minimize one with `build-fuzz/bin/fuzz_TARGET -minimize_crash=1 FILE` and add
# it to tests/fuzz/regressions/TARGET/ (tests/unit/test_fuzz_regressions.cpp
# replays that folder). The exit status is non-zero when something was found.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/.."

# Target -> largest input (-max_len): a few records beyond the biggest seed.
declare -A max_len=([unpickle]=8192 [pt_zip]=32768 [pt_legacy]=16384 [safetensors]=8192
                    [idx]=4096 [sharded_index]=4096)
targets=(unpickle pt_zip pt_legacy safetensors idx sharded_index)

usage() {
  echo "usage: scripts/fuzz.sh TARGET SECONDS [LIBFUZZER_ARGS...] | --list" >&2
  echo "targets: ${targets[*]}" >&2
  exit 2
}
if [[ "${1:-}" == --list ]]; then
  printf '%s\n' "${targets[@]}"
  exit 0
fi
(($# >= 2)) || usage
target=$1 seconds=$2
shift 2
[[ -n "${max_len[$target]:-}" ]] || usage
[[ "$seconds" =~ ^[0-9]+$ ]] || usage

cxx=$(command -v clang++-14 || command -v clang++ || true)
rt=$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null | head -1)
if [[ -z "$cxx" || -z "$rt" ]]; then
  echo "fuzz: needs clang with libFuzzer; on Debian 12:" >&2
  echo "  sudo apt-get install clang-14 libclang-rt-14-dev" >&2
  exit 1
fi

build=build-fuzz
if ! grep -q '^WICK_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DWICK_FUZZ=ON -DWICK_BUILD_TESTS=OFF -DWICK_BUILD_BENCH=OFF -DWICK_BUILD_EXAMPLES=OFF >/dev/null
fi
ninja -C "$build" -j2 "fuzz_$target" >/dev/null

corpus=$build/corpus/$target crashes=$build/crashes/$target
mkdir -p "$corpus" "$crashes"
cp -n tests/fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
fits() { (($(stat -c %s "$1") <= max_len[$target])); }
for f in tests/fixtures/*/*; do
  fits "$f" || continue
  head=$(head -c 2 "$f" | od -An -tx1 | tr -d ' ')
  case "$target:$f:$head" in
    pt_zip:*.pt:504b | pt_legacy:*.pt:8002 | safetensors:*.safetensors:*)
      cp -n "$f" "$corpus/fixture_$(basename "$f")" ;;
    unpickle:*.pt:504b)  # the pickle inside the archive
      python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
sys.stdout.buffer.write(z.read(next(n for n in z.namelist() if n.endswith("/data.pkl"))))' \
        "$f" >"$corpus/fixture_$(basename "$f" .pt).pkl" ;;
  esac
done

log=$build/fuzz-$target.log
echo "fuzz: $target for ${seconds}s, corpus $corpus ($(ls "$corpus" | wc -l) files), log $log"
status=0
# -jobs=1 runs one worker process that writes fuzz-0.log in the current
# directory; wick is kept to one thread so the run uses one core.
(cd "$build" && rm -f fuzz-0.log &&
  WICK_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "bin/fuzz_$target" -jobs=1 -max_total_time="$seconds" -max_len="${max_len[$target]}" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="crashes/$target/" "$@" "corpus/$target" >/dev/null 2>&1) || status=$?
mv "$build/fuzz-0.log" "$log"
grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 || true
grep -E '^#[0-9]+.*(cov|DONE)' "$log" | tail -1 || true
grep -E '^stat::' "$log" || true
found=$(find "$crashes" -type f | wc -l)
echo "fuzz: $target: $found saved input(s) in $crashes"
((status == 0 && found == 0))
