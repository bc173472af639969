#!/bin/bash
# transport/README.md's "Node name → C++ name" tables against the spec and the tests: every element
# of node_http2_api_elements.txt has exactly one row, every state is done/deviation/n/a, every test
# a row names exists (TEST/TEST_F/TEST_P in a *_test.cc, or a *_test rule in a BUILD file).
# The named tests live in many packages, so the check reads the source tree itself: the directory
# README.md's runfile links to (the test is tagged "external": never cached, as its inputs are not
# all declared). The C++ names are checked by compiling: //transport:api_table_symbols_test.
set -euo pipefail
script="$1" readme="$2" elements="$3" spec_elements="$4"
root=$(dirname "$(dirname "$(readlink -f "$readme")")")
[ -f "$root/transport/README.md" ] || { echo "cannot find the source tree from $readme"; exit 1; }
# The element list is committed (the spec is outside the repository); where the spec is at hand
# (../shared beside the checkout, as on CI), the list must be what the script makes from it.
spec="$root/../shared/spec/node-http2-api.fr.md"
if [ -f "$spec" ]; then
  if ! diff <(/usr/bin/python3 "$spec_elements" "$spec") "$elements"; then
    echo "node_http2_api_elements.txt is not what spec_elements.py makes from $spec: regenerate it"
    exit 1
  fi
  echo "element list: up to date with $spec"
else
  echo "element list: $spec not found, the committed list is used as is"
fi
exec /usr/bin/python3 "$script" check "$readme" "$elements" "$root"
