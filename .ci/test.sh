#!/usr/bin/env bash
# make test / make asan (and so .ci/run): one test suite = `bazel test` of some target patterns
# with some flags, then one 'N passed, N failed, N skipped' line (.ci/test_summary.py) counted
# from this run's results, and `bazel shutdown` at the end so no server idles for hours.
#
#   .ci/test.sh [--suite=NAME] [--targets-file=FILE | --targets="//a/... //b:c"]
#               [--skip-tag=TAG] [bazel flags]
# --skip-tag: tests tagged TAG are not run in this suite; each is listed and counted as skipped
# (the tag's BUILD comment says why), never silently left out.
#
# Patterns default to //... . A pattern whose package does not exist (yet) is left out with a
# note, so a list can name a package before it lands (the fuzz tests). Exit status: non-zero if
# bazel test failed or any test failed or did not run.
set -uo pipefail
cd "$(dirname "$0")/.."

suite=test
skip_tag=""
patterns=()
bazel_flags=()
for a in "$@"; do
  case $a in
    --suite=*) suite=${a#*=} ;;
    --targets-file=*)
      file=${a#*=}
      [[ -r $file ]] || { echo "$suite: cannot read $file" >&2; exit 2; }
      # One pattern per line; '#' starts a comment.
      while read -r line; do
        line=${line%%#*}
        for p in $line; do patterns+=("$p"); done
      done <"$file" ;;
    --targets=*) for p in ${a#*=}; do patterns+=("$p"); done ;;
    --skip-tag=*) skip_tag=${a#*=} ;;
    *) bazel_flags+=("$a") ;;
  esac
done
((${#patterns[@]})) || patterns=(//...)

# Leave out patterns of packages that do not exist.
present=()
for p in "${patterns[@]}"; do
  pkg=${p#//}
  pkg=${pkg%%:*}
  pkg=${pkg%/...}
  pkg=${pkg%...}
  if [[ $p == *... && -d ./$pkg && -n $(find "./$pkg" \( -name BUILD.bazel -o -name BUILD \) \
        -print -quit) ]] || [[ $p != *... && ( -f ./$pkg/BUILD.bazel || -f ./$pkg/BUILD ) ]]; then
    present+=("$p")
  else
    echo "$suite: note: $p left out (no such package yet)"
  fi
done
if ((${#present[@]} == 0)); then
  echo "$suite: none of the target patterns exists: ${patterns[*]}" >&2
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

flags=()
[[ -n "${CI:-}" || ! -t 1 ]] && flags+=(--config=ci)
tmp=$(mktemp -d /tmp/h2rpc-test.XXXXXX)
trap 'bazel shutdown >/dev/null 2>&1; rm -rf "$tmp"' EXIT

[[ -n $skip_tag ]] && bazel_flags+=("--test_tag_filters=-$skip_tag")
echo "=== $suite: bazel test ${bazel_flags[*]} ${present[*]}"
start=$SECONDS
bazel test "${flags[@]}" "${bazel_flags[@]}" --keep_going \
  --build_event_json_file="$tmp/bep.json" -- "${present[@]}"
rc=$?

# The test targets of these patterns that `bazel test` runs (not the manual ones). A query that
# fails leaves the list empty, which the summary counts as a failure.
set_expr="set(${present[*]})"
run_expr="tests($set_expr) except attr(tags, '\\bmanual\\b', tests($set_expr))"
skipped=0
if [[ -n $skip_tag ]]; then
  skip_expr="attr(tags, '\\b$skip_tag\\b', $run_expr)"
  if bazel query "$skip_expr" >"$tmp/skipped" 2>/dev/null; then
    while read -r label; do
      [[ $label == //* ]] || continue
      echo "skipped in $suite: $label (tagged $skip_tag)"
      skipped=$((skipped + 1))
    done <"$tmp/skipped"
  fi
  run_expr="$run_expr except $skip_expr"
fi
if ! bazel query "$run_expr" >"$tmp/targets" 2>"$tmp/query.err"; then
  echo "$suite: bazel query failed:" >&2
  cat "$tmp/query.err" >&2
  : >"$tmp/targets"
fi
logs=$(bazel info "${flags[@]}" "${bazel_flags[@]}" bazel-testlogs 2>/dev/null)
echo "=== $suite: $((SECONDS - start)) s"
/usr/bin/python3 .ci/test_summary.py "$logs" --bep "$tmp/bep.json" --skipped "$skipped" \
  <"$tmp/targets"
summary_rc=$?
if ((rc == 0 && summary_rc != 0)); then rc=$summary_rc; fi
if ((rc != 0 && summary_rc == 0)); then
  echo "$suite: bazel test exited with status $rc although every test passed (a build error?)" >&2
fi
exit $rc
