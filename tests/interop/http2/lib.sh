# lib.sh — sourced by the interop test scripts: process bookkeeping, bounded waits, checks.
# Every process started with start_server is killed on exit (trap); every wait has a deadline.
set -uo pipefail

TMP="${TEST_TMPDIR:-$(mktemp -d)}"
PIDS=()
FAILURES=0

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

# A tool from the system (tests run with a minimal PATH).
tool() {
  local name=$1 p
  # Node 20 is the oracle: make setup installs it into /opt/h2rpc/node20 when the system's is older.
  if [[ $name == node && -x /opt/h2rpc/node20/bin/node ]]; then echo /opt/h2rpc/node20/bin/node; return 0; fi
  for p in "/usr/bin/$name" "/bin/$name" "/usr/local/bin/$name"; do
    if [[ -x $p ]]; then echo "$p"; return 0; fi
  done
  command -v "$name" || { echo "FATAL: $name is not installed" >&2; exit 1; }
}

log() { echo "--- $*"; }
pass() { echo "ok    $*"; }
# A failed check: reported, the test goes on so that one run shows every failure.
fail() { echo "FAIL  $*"; FAILURES=$((FAILURES + 1)); }
# A failure that makes the rest meaningless.
die() { echo "FATAL $*"; exit 1; }

# check DESCRIPTION COMMAND...: pass if COMMAND succeeds.
check() {
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# start_server NAME COMMAND...: starts COMMAND in the background and waits (10 s at most) for
# its port line: "listening PORT" (scenario servers) or "hello_server: listening on
# http(s)://HOST:PORT". Sets PORT and SERVER_PID; the output is in $TMP/NAME.out / .err.
start_server() {
  local name=$1; shift
  local out="$TMP/$name.out" err="$TMP/$name.err"
  : >"$out"
  "$@" >"$out" 2>"$err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  local deadline=$((SECONDS + 10)) port=""
  while ((SECONDS < deadline)); do
    port=$(sed -n -E 's/^listening ([0-9]+)$/\1/p; s/^hello_server: listening on https?:\/\/.*:([0-9]+)$/\1/p' "$out" | head -n 1)
    if [[ -n $port ]]; then PORT=$port; return 0; fi
    if ! alive "$SERVER_PID"; then
      echo "--- $name exited before listening; stderr:"; cat "$err"
      die "$name did not start"
    fi
    sleep 0.05
  done
  die "$name printed no port within 10 s"
}

# alive PID: the process is still running (it did not crash). kill -0 is not enough: a child
# that exited stays a zombie (state Z) until it is waited for.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# stop_gracefully PID: SIGTERM, then wait (5 s at most) for the exit; returns its exit status,
# 124 on timeout (then it is killed).
stop_gracefully() {
  local pid=$1 deadline=$((SECONDS + 5))
  kill -TERM "$pid" 2>/dev/null
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then wait "$pid"; return $?; fi
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  return 124
}

# Ends the test: 0 if no check failed.
finish() {
  if ((FAILURES > 0)); then
    echo "=== $FAILURES check(s) failed"
    exit 1
  fi
  echo "=== all checks passed"
  exit 0
}
