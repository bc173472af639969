#!/bin/bash
# protocols_smoke_test: bench/protocols.sh (make bench-protocols) works. Runs it for 1 round of
# 1 s per run on the bench_server and make_request built by Bazel (BIN), then checks that every
# protocol (gRPC, gRPC-Web, gRPC-Web text, Connect proto and JSON; HTTP/2 and HTTP/1.1) at both
# payload sizes recorded a req/s figure with errors=0 (its check before and after answered OK,
# h2load counted no failure, the server's --stats no call ending not OK), that no run failed,
# and that the report was written. No performance assertion: this runs on busy machines.
#   protocols_smoke_test.sh PROTOCOLS_SH BENCH_SERVER MAKE_REQUEST
set -u
script=$1 server=$2 make_request=$3
tmp=${TEST_TMPDIR:-/tmp}
bin=$tmp/bin
mkdir -p "$bin"
ln -sf "$(realpath "$server")" "$bin/bench_server"
ln -sf "$(realpath "$make_request")" "$bin/make_request"

kinds=grpc,grpcweb,grpcwebtext,connect_proto,connect_json,h1_grpcweb,h1_grpcwebtext,h1_connect_proto,h1_connect_json
if ! BIN=$bin ROUNDS=1 DURATION=1 WARMUP=0 OUT=$tmp/PROTOCOLS.md RAW=$tmp/raw.tsv \
     "$script" >"$tmp/run.log" 2>&1; then
  cat "$tmp/run.log"; echo "FAIL protocols.sh exited with an error"; exit 1
fi
fail=0
IFS=, read -r -a all <<<"$kinds"
for kind in "${all[@]}"; do
  for size in 0 1k; do
    rps=$(awk -F'\t' -v k="$kind" -v s="$size" '$2 == k && $3 == s && $4 == "rps" {print $5}' "$tmp/raw.tsv")
    errors=$(awk -F'\t' -v k="$kind" -v s="$size" '$2 == k && $3 == s && $4 == "errors" {print $5}' "$tmp/raw.tsv")
    if [ -n "$rps" ] && awk -v r="$rps" 'BEGIN {exit !(r > 0)}' && [ "$errors" = 0 ]; then
      echo "ok   $kind $size: $rps req/s, errors=0"
    else
      echo "FAIL $kind $size: rps='$rps' errors='$errors'"; fail=1
    fi
  done
done
if [ -s "$tmp/raw.tsv.failed" ]; then
  echo "FAIL failed runs:"; cat "$tmp/raw.tsv.failed"; fail=1
fi
grep -q '^| gRPC | `application/grpc` | HTTP/2 | 0 B | [0-9]' "$tmp/PROTOCOLS.md" \
  || { echo "FAIL PROTOCOLS.md has no gRPC row"; fail=1; }
[ "$fail" = 0 ] || { cat "$tmp/run.log"; exit 1; }
echo PASS
