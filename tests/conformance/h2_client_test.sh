#!/bin/bash
# Hostile HTTP/2 clients (Python hyper-h2 over TCP) against examples/http2:hello_server.
# Usage: h2_client_test.sh <path of hello_server>. hostile_h2.py starts the server and always
# stops it (finally; SIGTERM runs that finally; the server also gets SIGTERM should Python die).
set -euo pipefail

server="$1"
here="$(dirname "$0")"

py_pid=""
cleanup() {
  if [[ -n "$py_pid" ]] && kill -0 "$py_pid" 2>/dev/null; then
    kill -TERM "$py_pid" 2>/dev/null || true
    wait "$py_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

/usr/bin/python3 "$here/hostile_h2.py" --server "$server" &
py_pid=$!
wait "$py_pid"
