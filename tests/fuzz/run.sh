#!/usr/bin/env bash
# make fuzz: builds every libFuzzer target with clang 14 (ASan+UBSan, --config=fuzz) and runs each
# for FUZZ_S seconds (default 60) on a copy of its committed corpus, then prints one line per
# target: executions, coverage (cov: edges, ft: features), corpus size and the result.
#
#   FUZZ_S=600 tests/fuzz/run.sh [target...]      (targets: server_session rpc_server ...)
#   FUZZ_JOBS=2                                    fuzzers run at once (default 1)
#   FUZZ_KEEP=dir                                  keep the grown corpora there (default: a temp dir)
#   FUZZ_BIN=dir                                   use fuzzers already built there (no build)
#   FUZZ_TIMEOUT=s                                 an input slower than this is a finding (default 5;
#                                                  libFuzzer counts wall time: raise it for fuzzers
#                                                  run under nice on a loaded machine)
#
# The clang build lives in its own Bazel output base (--config=fuzz changes the C++ toolchain;
# in the normal output base every switch back to g++ would re-run the toolchain configuration).
# New crashes land in tests/fuzz/findings/ as crash-<target>-<sha1>; nothing in corpus/ changes.
set -uo pipefail
cd "$(dirname "$0")/../.."
FUZZ_S=${FUZZ_S:-60}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-5}
JOBS=${FUZZ_JOBS:-1}
ALL=(server_session client_session rpc_server deframer metadata timeout status authority http1_request
     grpc_web content_type connect web_server client_protocol)
targets=("$@")
((${#targets[@]})) || targets=("${ALL[@]}")

command -v clang-14 >/dev/null || { echo "fuzz: clang-14 missing (make setup installs it)" >&2; exit 1; }
[[ -f /usr/lib/llvm-14/lib/libFuzzer.a || -d /usr/lib/llvm-14/lib/clang ]] || {
  echo "fuzz: libFuzzer missing (apt-get install libfuzzer-14-dev)" >&2; exit 1; }

# One output base per worktree, beside Bazel's default ones.
base="$HOME/.cache/h2rpc-fuzz/$(pwd | sha1sum | cut -c1-12)"
bin=${FUZZ_BIN:-}
if [[ -z $bin ]]; then
  BAZEL=(bazel --output_base="$base")
  trap '"${BAZEL[@]}" shutdown >/dev/null 2>&1' EXIT
  flags=(--config=fuzz --symlink_prefix=/)   # no bazel-* symlinks: those stay the g++ tree's
  [[ -n "${CI:-}" || ! -t 1 ]] && flags+=(--config=ci)
  labels=()
  for t in "${targets[@]}"; do labels+=("//tests/fuzz:${t}_fuzzer"); done
  # gold warns about every ASan helper symbol when linking with -fsanitize=fuzzer: noise.
  "${BAZEL[@]}" build "${flags[@]}" "${labels[@]}" 2>&1 | grep -v "Cannot export local symbol"
  ((PIPESTATUS[0] == 0)) || { echo "fuzz: build failed" >&2; exit 1; }
  bin=$("${BAZEL[@]}" info "${flags[@]}" bazel-bin 2>/dev/null)
fi

work=${FUZZ_KEEP:-$(mktemp -d)}
mkdir -p "$work" tests/fuzz/findings
run_one() {
  local t=$1 dir="$work/$t" log="$work/$t.log"
  mkdir -p "$dir" "$work/$t.artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$dir"/ 2>/dev/null
  # -rss_limit_mb / -timeout: memory growth and slow inputs are findings too.
  /usr/bin/time -f "%U %S" -o "$work/$t.time" \
    "$bin/tests/fuzz/${t}_fuzzer" "$dir" -max_total_time="$FUZZ_S" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/$t.artifacts/" \
    >"$log" 2>&1
  local rc=$?
  local last execs cov ft cpu
  cpu=$(awk '/^[0-9.]+ [0-9.]+$/ {printf "%.0f", $1 + $2}' "$work/$t.time")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
  local result=ok
  if ((rc != 0)); then
    result="FAILED (rc $rc, see $log)"
    for a in "$work/$t.artifacts"/*; do
      [[ -f $a ]] || continue
      cp "$a" "tests/fuzz/findings/$(basename "$a" | sed "s/^\([a-z-]*\)-/\1-$t-/")"
      result+="; reproducer in tests/fuzz/findings/"
    done
  fi
  printf '%-15s %5ss  cpu: %5ss  execs: %-10s cov: %-6s ft: %-7s corpus: %-5s %s\n' "$t" \
    "$FUZZ_S" "${cpu:-?}" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$(ls "$dir" | wc -l)" "$result"
  [[ $result == ok ]]
}

failed=0
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  ((++running >= JOBS)) && { wait -n || failed=1; ((running--)); }
done
while ((running > 0)); do wait -n || failed=1; ((running--)); done
[[ -z ${FUZZ_KEEP:-} ]] && rm -rf "$work"
exit $failed
