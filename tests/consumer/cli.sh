#!/usr/bin/env bash
# Checks the `wick` program's contract: --version, --help, and bad usage
# (exit code 2, one line `wick: error: ...` on stderr, nothing on stdout).
#
#   cli.sh <path to wick> <version>
set -euo pipefail

wick=${1:?usage: cli.sh <path to wick> <version>}
version=${2:?usage: cli.sh <path to wick> <version>}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# run <expected exit code> args...: leaves stdout/stderr in $tmp/out, $tmp/err.
run() {
  local want=$1 got=0
  shift
  "$wick" "$@" >"$tmp/out" 2>"$tmp/err" || got=$?
  if [[ $got != "$want" ]]; then
    echo "FAIL: wick $* exited $got, expected $want" >&2
    failures=$((failures + 1))
  fi
}
expect() {  # expect <description> <condition...>
  local what=$1
  shift
  if ! "$@"; then
    echo "FAIL: $what" >&2
    echo "  stdout: $(cat "$tmp/out")" >&2
    echo "  stderr: $(cat "$tmp/err")" >&2
    failures=$((failures + 1))
  fi
}
usage_error() {  # a bad-usage run: one error line, nothing else
  run 2 "$@"
  expect "wick $*: stdout is empty" test ! -s "$tmp/out"
  expect "wick $*: one line on stderr" test "$(wc -l <"$tmp/err")" -eq 1
  expect "wick $*: stderr starts with 'wick: error: '" grep -q '^wick: error: ' "$tmp/err"
}

run 0 --version
expect "--version prints 'wick $version'" test "$(cat "$tmp/out")" = "wick $version"
expect "--version prints nothing on stderr" test ! -s "$tmp/err"

run 0 --help
expect "--help shows usage" grep -q '^Usage: wick' "$tmp/out"
for cmd in inspect convert diff verify; do
  expect "--help lists '$cmd' with its summary" grep -Eq "^ +$cmd +[a-z]" "$tmp/out"
done
expect "--help says nothing is unimplemented" test -z "$(grep -i 'not implemented' "$tmp/out")"

for cmd in inspect convert diff verify; do
  run 0 "$cmd" --help
  expect "wick $cmd --help shows its usage" grep -q "^Usage: wick $cmd" "$tmp/out"
  expect "wick $cmd --help prints nothing on stderr" test ! -s "$tmp/err"
done

run 0
expect "no arguments prints the help" grep -q '^Usage: wick' "$tmp/out"

usage_error --no-such-option
usage_error no-such-command
usage_error -x
usage_error inspect
expect "a usage error points at the subcommand's help" grep -q "wick inspect --help" "$tmp/err"
usage_error inspect a.pt b.pt
usage_error diff a.pt
usage_error diff a.pt b.pt --atol -1
usage_error convert a.pt b.txt
usage_error convert a.pt b.pt --dtype int8
usage_error verify --no-such-option a.pt

if ((failures)); then
  echo "cli: $failures check(s) failed" >&2
  exit 1
fi
echo "cli: OK"
