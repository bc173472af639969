#!/bin/bash
# The README checks must fail on a bad README (transport/testdata/api_table_bad_readme.md):
# - api_table.py check reports the misspelled element, the unknown test and target, the bad state,
#   a row that renders two elements;
# - the C++ that api_table.py gencc writes from it does not compile, naming the misspelled member,
#   while the C++ written from the real README compiles with the same command (the control: the
#   failure is the name's, not the compiler's set-up).
set -uo pipefail
script="$1" readme="$2" elements="$3" bad="$4"
root=$(dirname "$(dirname "$(readlink -f "$readme")")")
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail=0
expect() {  # expect WHAT FILE PATTERN
  if grep -qF -- "$3" "$2"; then echo "ok: $1"; else echo "FAIL: $1: no '$3' in:"; cat "$2"; fail=1; fi
}

if /usr/bin/python3 "$script" check "$bad" "$elements" "$root" >"$tmp/check.out" 2>&1; then
  echo "FAIL: check passed a bad README"; cat "$tmp/check.out"; fail=1
fi
expect "a misspelled element leaves the real one without a row" "$tmp/check.out" \
  "spec element \`Http2Session 'close'\` has no row"
expect "an unknown test case" "$tmp/check.out" "no TEST SessionTest.NoSuchCase"
expect "an unknown target" "$tmp/check.out" "no target //transport:no_such_test"
expect "a library is no test" "$tmp/check.out" "//transport:session is a cc_library, not a test"
expect "an unknown state" "$tmp/check.out" 'state "not yet"'
expect "a done row without a test" "$tmp/check.out" "a done row must name a test"
expect "an element with two rows" "$tmp/check.out" "already has README line"
expect "a row with two elements" "$tmp/check.out" "renders 2 spec elements"

compile() { /usr/bin/c++ -std=c++20 -fsyntax-only -I"$root" "$1" >"$2" 2>&1; }
/usr/bin/python3 "$script" gencc "$readme" "$tmp/good.cc" || { echo "FAIL: gencc on README.md"; fail=1; }
if compile "$tmp/good.cc" "$tmp/good.out"; then echo "ok: README.md's names compile"
else echo "FAIL: the control does not compile:"; head -30 "$tmp/good.out"; fail=1; fi
/usr/bin/python3 "$script" gencc "$bad" "$tmp/bad.cc" || { echo "FAIL: gencc on the bad README"; fail=1; }
if compile "$tmp/bad.cc" "$tmp/bad.out"; then
  echo "FAIL: a misspelled member compiled"; fail=1
else
  expect "the misspelled member stops the build" "$tmp/bad.out" "names onClsoe"
  expect "a misspelled class stops the build" "$tmp/bad.out" "Http2Sesion"
fi
exit $fail
