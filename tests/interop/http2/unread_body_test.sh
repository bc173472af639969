#!/bin/bash
# unread_body_test: a server that answers without reading the request body must not leave the
# uploader hanging at the flow-control window (RFC 9113 §8.1). Our transport
# (unread_body_server) and Node 20 (node_unread_body_server.js, the oracle) each get a 200 KB
# upload from curl and from nghttp, over h2c: the client must finish promptly with the response,
# and the frames nghttp receives on the request stream must be Node's: HEADERS, DATA with
# END_STREAM, then RST_STREAM(NO_ERROR).
# Usage: unread_body_test.sh UNREAD_BODY_SERVER NODE_UNREAD_BODY_SERVER_JS
source "$(dirname "$0")/lib.sh"
OURS=$1 NODE_JS=$2
CURL=$(tool curl)
NGHTTP=$(tool nghttp)
NODE=$(tool node)
ANSWER='answered without reading'

head -c 204800 /dev/urandom >"$TMP/body.bin"

# The frames an `nghttp -v` transcript received on request streams (odd ids), one a line:
# "HEADERS flags=0x04", "DATA flags=0x01", "RST_STREAM NO_ERROR(0x00)" (WINDOW_UPDATE and
# connection-level frames left out: their number depends on timing).
stream_frames() {
  awk '/ recv (HEADERS|DATA|RST_STREAM) frame/ {
         match($0, /stream_id=[0-9]+/); id = substr($0, RSTART + 10, RLENGTH - 10)
         if (id % 2 == 0) next
         match($0, /flags=0x[0-9a-f]+/); fl = substr($0, RSTART, RLENGTH)
         if ($0 ~ /RST_STREAM/) { rst = 1; next }
         match($0, /recv [A-Z_]+/); print substr($0, RSTART + 5, RLENGTH - 5), fl; next }
       rst && /error_code=/ { gsub(/[ ()]/, ""); sub(/error_code=/, ""); print "RST_STREAM", $0; rst = 0 }' "$1"
}

run_peer_checks() {  # NAME PORT
  local name=$1 url="http://127.0.0.1:$2/upload" out rc
  # curl: --max-time bounds the run; without the RST_STREAM it stays blocked at 64 KiB until
  # then (exit 28). curl 7.88.1 (Debian 12) itself mishandles RST_STREAM(NO_ERROR) after a
  # complete response: depending on how the frames fall into its reads it exits 0 with the
  # response, or 92 ("Stream error in the HTTP/2 framing layer") with or without it — against
  # Node 20 exactly as against us. So: it must end promptly, with 0 or 92, and when it exits 0
  # it must have the response.
  out=$("$CURL" -sS --max-time 15 --http2-prior-knowledge --data-binary @"$TMP/body.bin" \
    -o "$TMP/$name.curl.body" -w '%{http_code} %{time_total}' "$url" 2>"$TMP/$name.curl.err")
  rc=$?
  echo "$name: curl exit $rc, '$out' $(cat "$TMP/$name.curl.err")"
  check "$name: curl uploading 200 KB ends without timing out (exit 0 or 92, got $rc)" \
    test $rc -eq 0 -o $rc -eq 92
  check "$name: curl finishes within 5 s (took ${out##* } s)" \
    awk -v t="${out##* }" 'BEGIN { exit !(t < 5) }'
  if ((rc == 0)); then
    check "$name: curl gets 200" test "${out%% *}" = 200
    check "$name: curl gets the response body" grep -qx "$ANSWER" "$TMP/$name.curl.body"
  fi

  timeout 15 "$NGHTTP" -v -d "$TMP/body.bin" "$url" >"$TMP/$name.nghttp.txt" 2>&1
  rc=$?
  check "$name: nghttp uploading 200 KB exits 0 within 15 s (got $rc)" test $rc -eq 0
  check "$name: nghttp gets the response body" grep -q "$ANSWER" "$TMP/$name.nghttp.txt"
  stream_frames "$TMP/$name.nghttp.txt" >"$TMP/$name.frames"
  echo "$name: frames on the request stream: $(paste -sd '|' "$TMP/$name.frames")"
}

log "Node 20 (oracle)"
start_server node "$NODE" "$NODE_JS"
run_peer_checks node "$PORT"
check "node: HEADERS, DATA+END_STREAM, RST_STREAM(NO_ERROR)" \
  test "$(paste -sd '|' "$TMP/node.frames")" = \
  "HEADERS flags=0x04|DATA flags=0x01|RST_STREAM NO_ERROR0x00"

log "ours: unread_body_server"
start_server ours "$OURS"
OURS_PID=$SERVER_PID
run_peer_checks ours "$PORT"
check "ours: the same frames as Node on the request stream" \
  diff "$TMP/node.frames" "$TMP/ours.frames"
check "ours: server still running" alive "$OURS_PID"

finish
