#!/bin/bash
# Compares what protoc-gen-h2rpc generates for proto/plugin/testdata/*.proto (built by Bazel,
# through h2rpc_cc_library's codegen targets) with the checked-in goldens
# proto/plugin/testdata/<name>.h2rpc.h.golden (and <name>.h2rpc_mock.h.golden, the mocks).
#
# Usage (from Bazel, in the runfiles tree): golden_test.sh GENERATED_HEADER...
set -euo pipefail
shopt -s nullglob

golden_dir=proto/plugin/testdata
if (($# == 0)); then
  echo "FAIL: no generated headers given" >&2
  exit 1
fi

failed=0
declare -A compared
for generated in "$@"; do
  name=$(basename "$generated")
  golden="$golden_dir/$name.golden"
  compared[$golden]=1
  if [[ ! -f $golden ]]; then
    echo "FAIL: $name has no golden ($golden)"
    failed=1
  elif diff -u --label "$golden" --label "generated $name" "$golden" "$generated"; then
    echo "ok: $name"
  else
    echo "FAIL: $name differs from $golden (diff above: - golden, + generated)"
    failed=1
  fi
done
for golden in "$golden_dir"/*.h2rpc.h.golden "$golden_dir"/*.h2rpc_mock.h.golden; do
  if [[ -z ${compared[$golden]:-} ]]; then
    echo "FAIL: $golden is no longer generated"
    failed=1
  fi
done

if ((failed)); then
  cat <<'MSG'

protoc-gen-h2rpc's output changed. If that is intended, regenerate the goldens and review the
diff before committing:

    proto/plugin/update_goldens.sh      # = bazel run //proto/plugin:update_goldens
MSG
  exit 1
fi
