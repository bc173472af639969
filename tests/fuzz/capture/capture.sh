#!/usr/bin/env bash
# Re-records the "real capture" seeds of tests/fuzz/corpus/ (run by hand; loopback only):
# the bytes real clients and servers exchange, relayed and recorded by proxy.py, each behind the
# 4-byte (or 3-byte) option header its fuzz target reads:
#   server_session/cap-*: what nghttp, curl, gRPC C++ and grpcio clients send (to h2rpc servers);
#   client_session/cap-*: what h2rpc's hello_server, nghttpd and gRPC C++'s server answer;
#   rpc_server/cap-*:     the gRPC clients' bytes, raw mode.
# Needs: bazel build //examples/http2:hello_server //tests/interop/grpc:interop_server
#        //tests/interop/grpc:interop_client //tests/interop/grpc:grpcpp_interop_client
#        //tests/interop/grpc:grpcpp_interop_server //tests/interop/grpc:interop_descriptor_set
set -uo pipefail
cd "$(dirname "$0")/../../.."
BIN=$(bazel info bazel-bin)
C=tests/fuzz/corpus
TMP=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
PROXY=tests/fuzz/capture/proxy.py
BASE=$((20000 + RANDOM % 20000))

start_server() {  # cmd... -> sets PORT (servers print 'listening PORT', or use a fixed one)
  "$@" >"$TMP/srv.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do
    PORT=$(sed -n -E 's/^listening ([0-9]+)$/\1/p' "$TMP/srv.out" | head -1)
    [[ -n $PORT ]] && return
    sleep 0.1
  done
}
# record NAME TARGET_PORT client-cmd... (the client gets the proxy's port as {P})
record() {
  local name=$1 target=$2
  shift 2
  local p=$((BASE++))
  /usr/bin/python3 $PROXY --listen $p --target "$target" --out "$TMP/$name" --idle 1.5 &
  local proxy=$!
  sleep 0.3
  local args=("${@//\{P\}/$p}")
  timeout 20 "${args[@]}" >/dev/null 2>&1
  wait $proxy
}
seed() {  # corpus-dir name header-bytes capture-file
  { printf "$3"; cat "$4"; } >"$C/$1/cap-$2"
}

# --- h2rpc's transport server (examples/http2:hello_server) -------------------------------
HP=$((BASE++))
"$BIN/examples/http2/hello_server" --port=$HP >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5
head -c 3000 /dev/urandom | base64 >"$TMP/upload"
record nghttp_get $HP nghttp -n http://127.0.0.1:{P}/
record nghttp_post $HP nghttp -n -d "$TMP/upload" http://127.0.0.1:{P}/upload
record nghttp_multi $HP nghttp -n -m 3 -H 'x-custom: 1' http://127.0.0.1:{P}/a
record curl_get $HP curl -s --http2-prior-knowledge http://127.0.0.1:{P}/
record curl_post $HP curl -s --http2-prior-knowledge --data-binary @"$TMP/upload" http://127.0.0.1:{P}/post
for n in nghttp_get nghttp_post nghttp_multi curl_get curl_post; do
  seed server_session "$n" '\0\0\0\0' "$TMP/$n-0.c2s"
  seed client_session "hello_server-$n" '\0\0\0\0' "$TMP/$n-0.s2c"
done
# The same bytes in 1..16-byte reads.
seed server_session nghttp_post_split '\0\0\x14\0' "$TMP/nghttp_post-0.c2s"

# --- nghttpd's answers ---------------------------------------------------------------------
mkdir -p "$TMP/www" && echo hello >"$TMP/www/index.html"
NP=$((BASE++))
nghttpd --no-tls -d "$TMP/www" $NP >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5
record nghttpd_get $NP nghttp -n http://127.0.0.1:{P}/
record nghttpd_404 $NP nghttp -n -d "$TMP/upload" http://127.0.0.1:{P}/missing
for n in nghttpd_get nghttpd_404; do seed client_session "$n" '\0\0\0\0' "$TMP/$n-0.s2c"; done

# --- gRPC: gRPC C++ and grpcio clients against h2rpc's interop server ----------------------
CASES="empty_unary server_streaming ping_pong custom_metadata status_code_and_message
  special_status_message unimplemented_method cancel_after_begin empty_stream
  client_compressed_unary server_compressed_streaming timeout_on_sleeping_server"
start_server "$BIN/tests/interop/grpc/interop_server" --port=0
OURS=$PORT
for c in $CASES; do
  record "grpcpp_$c" $OURS "$BIN/tests/interop/grpc/grpcpp_interop_client" \
    --server_host=127.0.0.1 --server_port={P} --test_case=$c
  seed server_session "grpcpp_$c" '\0\0\0\0' "$TMP/grpcpp_$c-0.c2s"
  seed rpc_server "grpcpp_$c" '\x01\0\0' "$TMP/grpcpp_$c-0.c2s"
  seed client_session "h2rpc_rpc_server-$c" '\0\0\0\0' "$TMP/grpcpp_$c-0.s2c"
done
for c in empty_unary ping_pong custom_metadata; do
  record "grpcio_$c" $OURS /usr/bin/python3 tests/interop/grpc/python_interop_client.py \
    --descriptor_set="$BIN/tests/interop/grpc/interop.desc" \
    --server_host=127.0.0.1 --server_port={P} --test_case=$c
  seed server_session "grpcio_$c" '\0\0\0\0' "$TMP/grpcio_$c-0.c2s"
  seed rpc_server "grpcio_$c" '\x01\0\0' "$TMP/grpcio_$c-0.c2s"
done

# --- gRPC C++'s server answering h2rpc's interop client ------------------------------------
start_server "$BIN/tests/interop/grpc/grpcpp_interop_server" --port=0
for c in empty_unary server_streaming status_code_and_message unimplemented_method; do
  record "ours_$c" $PORT "$BIN/tests/interop/grpc/interop_client" \
    --server_host=127.0.0.1 --server_port={P} --test_case=$c
  seed client_session "grpcpp_server-$c" '\0\0\0\0' "$TMP/ours_$c-0.s2c"
  seed server_session "h2rpc_client-$c" '\0\0\0\0' "$TMP/ours_$c-0.c2s"
done
ls -la $C/*/cap-* | awk '{s+=$5} END {print NR " captures, " s " bytes"}'
