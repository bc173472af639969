#!/usr/bin/env bash
# make test / make asan: bazel test //... (extra flags in $@), one 'N passed, N failed' line, and
# always `bazel shutdown` at the end so no server idles for hours.
set -uo pipefail
cd "$(dirname "$0")/.."
flags=()
[[ -n "${CI:-}" || ! -t 1 ]] && flags+=(--config=ci)
trap 'bazel shutdown >/dev/null 2>&1' EXIT
bazel test "${flags[@]}" "$@" //...
rc=$?
# Only the test targets that exist now: stale test.xml files of removed targets never count.
bazel query 'tests(//...)' 2>/dev/null >/tmp/h2rpc-test-targets.$$ || true
logs=$(bazel info "${flags[@]}" "$@" bazel-testlogs 2>/dev/null)
/usr/bin/python3 .ci/test_summary.py "$logs" </tmp/h2rpc-test-targets.$$
summary_rc=$?
rm -f /tmp/h2rpc-test-targets.$$
if ((rc == 0 && summary_rc != 0)); then rc=$summary_rc; fi
exit $rc
