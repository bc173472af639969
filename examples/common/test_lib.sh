# Sourced by the example tests (server_client_test.sh, reflection_health_test.sh,
# grpc_web_test.sh, connect_test.sh): the parts they share, so each says only what it checks.

# wait_listening LOG: waits (bounded) until the server $pid writes "listening on WHERE" to LOG and
# sets where and port (the text after the last ':'); fails the test with LOG if the server stops
# or never says so.
wait_listening() {
  local log=$1
  where=""
  for _ in $(seq 200); do
    where=$(sed -n 's/.*listening on \([^ ]*\)$/\1/p' "$log" | head -1)
    [ -n "$where" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$where" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
  port=${where##*:}
}

# find_buf PACKAGE_JSON: sets buf to the buf CLI that `make setup` installed beside PACKAGE_JSON,
# and gives it a writable home (buf writes a cache).
find_buf() {
  buf=$(dirname "$(readlink -f "$1")")/node_modules/@bufbuild/buf-linux-x64/bin/buf
  [ -x "$buf" ] || { echo "no buf CLI at $buf: run 'make setup'"; exit 1; }
  export HOME=$TEST_TMPDIR XDG_CACHE_HOME=$TEST_TMPDIR/cache
}

# expect_in WHAT OUTPUT: fails the test unless OUTPUT contains WHAT.
expect_in() {
  grep -qF -- "$1" <<<"$2" || { echo "missing: $1"; echo "in: $2"; exit 1; }
}
