#!/bin/bash
# Rewrites proto/plugin/testdata/*.h2rpc.h.golden with what protoc-gen-h2rpc generates now.
#
#   proto/plugin/update_goldens.sh                      # from any directory
#   proto/plugin/update_goldens.sh --config=ci          # arguments are options of `bazel run`
#   BAZEL="bazel --output_base=DIR" proto/plugin/update_goldens.sh
#
# Run directly, it runs `bazel run //proto/plugin:update_goldens`, which builds the generated
# headers and calls this script again with their paths (and BUILD_WORKSPACE_DIRECTORY set).
set -euo pipefail

if [[ -z ${BUILD_WORKSPACE_DIRECTORY:-} ]]; then
  cd "$(dirname "$0")/../.."
  # shellcheck disable=SC2086  # BAZEL may hold startup options
  exec ${BAZEL:-bazel} run "$@" //proto/plugin:update_goldens
fi

if (($# == 0)); then
  echo "update_goldens: no generated headers given" >&2
  exit 1
fi
dest="$BUILD_WORKSPACE_DIRECTORY/proto/plugin/testdata"
rm -f "$dest"/*.h2rpc.h.golden "$dest"/*.h2rpc_mock.h.golden
for generated in "$@"; do
  golden="$dest/$(basename "$generated").golden"
  cp "$generated" "$golden"
  chmod 644 "$golden"
  echo "updated ${golden#"$BUILD_WORKSPACE_DIRECTORY/"}"
done
echo "Review the change with: git diff -- proto/plugin/testdata"
