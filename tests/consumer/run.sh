#!/usr/bin/env bash
# Installs the current build into a scratch prefix and builds a user's program
# against it twice: with CMake (find_package(wick), shared and static) and with
# a plain compiler command from `pkg-config --cflags --libs wick`.
#
# Environment (set by CMakeLists.txt next to this file):
#   WICK_BUILD_DIR  the wick build tree to install
#   WORK_DIR        scratch directory (wiped first)
#   LIBDIR          CMAKE_INSTALL_LIBDIR, e.g. lib
#   CXX             the compiler wick was built with
#   GENERATOR       the CMake generator wick was built with
#   SANITIZE        1 when wick was built with ASan + UBSan
#   VERSION         wick's version, e.g. 0.1.0
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${WICK_BUILD_DIR:?}" "${WORK_DIR:?}" "${VERSION:?}" "${LIBDIR:=lib}" "${CXX:=c++}"
: "${GENERATOR:=Ninja}"
expected="wick $VERSION sum=10 grad_sum=10 png=3x1x2 red=255"

flags=()
# shellcheck disable=SC2054  # the commas belong to -fsanitize
if [[ "${SANITIZE:-0}" == 1 ]]; then
  flags=(-fsanitize=address,undefined -fno-omit-frame-pointer)
fi

step() { echo "--- $*"; }
check_output() {  # program...
  local out
  out=$("$@")
  echo "$out"
  if [[ "$out" != "$expected" ]]; then
    echo "FAIL: '$*' printed '$out', expected '$expected'" >&2
    exit 1
  fi
}

loads() {  # loads <program> <library path>: the dynamic loader picks that file
  if [[ $(ldd "$1") != *"=> $2"* ]]; then
    echo "FAIL: $1 does not load $2:" >&2
    ldd "$1" >&2
    exit 1
  fi
}

rm -rf "$WORK_DIR"
mkdir -p "$WORK_DIR"
prefix="$WORK_DIR/prefix"

step "install into $prefix"
cmake --install "$WICK_BUILD_DIR" --prefix "$prefix" >"$WORK_DIR/install.log"
for f in include/wick/wick.h include/wick/version.h include/wick/core/tensor.h \
  "$LIBDIR/libwick.a" "$LIBDIR/libwick.so" "$LIBDIR/libwick.so.0" bin/wick \
  "$LIBDIR/cmake/wick/wickConfig.cmake" "$LIBDIR/cmake/wick/wickConfigVersion.cmake" \
  "$LIBDIR/pkgconfig/wick.pc"; do
  [[ -e "$prefix/$f" ]] || { echo "FAIL: not installed: $f" >&2; exit 1; }
done
[[ -L "$prefix/$LIBDIR/libwick.so" ]] || { echo "FAIL: libwick.so is not a symlink" >&2; exit 1; }
[[ $("$prefix/bin/wick" --version) == "wick $VERSION" ]] ||
  { echo "FAIL: installed wick --version does not print 'wick $VERSION'" >&2; exit 1; }

step "CMake consumer: find_package(wick)"
cmake -S "$here/project" -B "$WORK_DIR/cmake-build" -G "$GENERATOR" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$CXX" -DWICK_VERSION="$VERSION" \
  -DCMAKE_CXX_FLAGS="${flags[*]}" -DCMAKE_EXE_LINKER_FLAGS="${flags[*]}" \
  >"$WORK_DIR/configure.log" || { cat "$WORK_DIR/configure.log"; exit 1; }
cmake --build "$WORK_DIR/cmake-build"
check_output "$WORK_DIR/cmake-build/consumer_shared"
check_output "$WORK_DIR/cmake-build/consumer_static"
# The shared program must use the installed library, found through its RPATH.
loads "$WORK_DIR/cmake-build/consumer_shared" "$prefix/$LIBDIR/libwick.so"
if [[ $(ldd "$WORK_DIR/cmake-build/consumer_static") == *libwick* ]]; then
  echo "FAIL: consumer_static loads libwick.so" >&2
  exit 1
fi

step "pkg-config consumer"
export PKG_CONFIG_PATH="$prefix/$LIBDIR/pkgconfig"
pkg-config --modversion wick
pc_shared=$(pkg-config --cflags --libs wick)
echo "pkg-config --cflags --libs wick: $pc_shared"
# shellcheck disable=SC2086  # word splitting of compiler flags is intended
"$CXX" -std=c++20 "${flags[@]}" "$here/project/main.cpp" -o "$WORK_DIR/pc_shared" $pc_shared
check_output env LD_LIBRARY_PATH="$prefix/$LIBDIR" "$WORK_DIR/pc_shared"
LD_LIBRARY_PATH="$prefix/$LIBDIR" loads "$WORK_DIR/pc_shared" "$prefix/$LIBDIR/libwick.so"

# Static: libwick.a plus the Libs.private the .pc file lists.
pc_static=" $(pkg-config --static --libs wick) "
pc_static=${pc_static// -lwick / -l:libwick.a }
echo "static link: $pc_static"
pc_cflags=$(pkg-config --cflags wick)
# shellcheck disable=SC2086
"$CXX" -std=c++20 "${flags[@]}" $pc_cflags "$here/project/main.cpp" \
  -o "$WORK_DIR/pc_static" $pc_static
check_output "$WORK_DIR/pc_static"

echo "consumer: OK"
