#!/bin/bash
# tests/proxy/lib.sh — what nginx_test.sh and drain_stress.sh share: process bookkeeping, the
# backends' fixed ports, starting an interop server backend, and nginx from nginx.conf.in.
# Sourced (not run) after the caller has set: server (interop server binary), ca (CA PEM, an
# absolute path), conf_in (nginx.conf.in) and TMP.
#
# Every wait is bounded; every process started through here is in PIDS and killed on exit.

NGINX=/usr/sbin/nginx
[[ -x $NGINX ]] || { echo "FATAL nginx is not installed (make setup installs nginx-light)"; exit 1; }

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
die() { echo "FATAL $*"; exit 1; }

# Fixed ports (the test has its own network namespace), BELOW the kernel's ephemeral range:
# nginx opens a connection per call, and while a drained backend is down one of those could
# take its port as a source port, so its restart would fail with EADDRINUSE (a CI flake).
declare -A PORT=([h2c1]=20051 [h2c2]=20052 [h2c3]=20053 [tls1]=20061 [tls2]=20062 [tls3]=20063)
read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range
((ephemeral_low > 20063)) || die "ephemeral ports start at $ephemeral_low: pick lower backend ports"
declare -A PID=()
FRONT_H2C=8080 FRONT_TLS=8443
BACKENDS=(h2c1 h2c2 h2c3 tls1 tls2 tls3)

# start_backend NAME: an interop server on its port (TLS for tls*), waits for "listening".
# Its drain gives running calls 5 s (the interop server's default is 500 ms): what is tested is
# that a draining backend loses no call it accepted, not how fast a loaded machine answers (CI
# took 0.6-0.9 s for calls that crossed a drain: cut at 500 ms, they were 502s).
start_backend() {
  local name=$1 tls=()
  [[ $name == tls* ]] && tls=(--use_tls)
  : >"$TMP/$name.log"  # a restart must not read the previous run's "listening"
  "$server" --host=127.0.0.1 --port="${PORT[$name]}" --shutdown_grace_ms=5000 "${tls[@]}" \
    >"$TMP/$name.log" 2>&1 &
  PID[$name]=$!
  PIDS+=($!)
  for _ in $(seq 300); do
    grep -q '^listening' "$TMP/$name.log" && return 0
    kill -0 "${PID[$name]}" 2>/dev/null || break
    sleep 0.05
  done
  cat "$TMP/$name.log"
  die "backend $name did not start"
}

# stop_backend NAME: SIGTERM (graceful shutdown), waits up to 10 s; returns its exit status
# (1 with a message if it did not stop).
stop_backend() {
  local name=$1 old=${PID[$1]}
  kill -TERM "$old"
  for _ in $(seq 200); do kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$old" 2>/dev/null; then
    echo "FAIL $name did not stop on SIGTERM"
    return 1
  fi
  wait "$old"
}

# start_nginx: nginx.conf from conf_in (the backends' and fronts' ports), checked with nginx -t,
# then nginx itself; waits until the TLS front accepts connections.
start_nginx() {
  mkdir -p "$TMP"/{body,proxy,fastcgi,uwsgi,scgi}
  chmod 777 "$TMP"/{body,proxy,fastcgi,uwsgi,scgi}
  # As root, nginx's workers would switch to nobody, which Bazel's sandbox cannot chown to: stay.
  local user=""
  (($(id -u) == 0)) && user="user root;"
  sed -e "s|@TMP@|$TMP|g" -e "s|@USER@|$user|" -e "s|@CA@|$ca|g" -e "s|@FRONT_H2C@|$FRONT_H2C|g" \
      -e "s|@FRONT_TLS@|$FRONT_TLS|g" \
      -e "s|@H2C1@|${PORT[h2c1]}|; s|@H2C2@|${PORT[h2c2]}|; s|@H2C3@|${PORT[h2c3]}|" \
      -e "s|@TLS1@|${PORT[tls1]}|; s|@TLS2@|${PORT[tls2]}|; s|@TLS3@|${PORT[tls3]}|" \
      "$conf_in" >"$TMP/nginx.conf"
  "$NGINX" -t -p "$TMP" -c "$TMP/nginx.conf" >"$TMP/nginx-t.log" 2>&1 || {
    cat "$TMP/nginx-t.log"; die "nginx rejects the configuration"; }
  "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" >"$TMP/nginx.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/$FRONT_TLS) 2>/dev/null && return 0
    sleep 0.05
  done
  cat "$TMP/error.log"
  die "nginx did not start"
}
