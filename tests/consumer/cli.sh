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
expect "--help names the planned subcommands" grep -q 'inspect' "$tmp/out"
expect "--help says they are not implemented yet" grep -q 'not implemented yet' "$tmp/out"

run 0
expect "no arguments prints the help" grep -q '^Usage: wick' "$tmp/out"

usage_error --no-such-option
usage_error no-such-command
usage_error -x
usage_error inspect model.pt
expect "a planned subcommand is named as planned" grep -q "planned" "$tmp/err"

if ((failures)); then
  echo "cli: $failures check(s) failed" >&2
  exit 1
fi
echo "cli: OK"
