# shellcheck shell=bash disable=SC2034  # sets variables its callers read
# bench/lib.sh — shell helpers shared by bench/run.sh and bench/protocols.sh (sourced, not run).

# stop_server PID: SIGTERM (a graceful stop: bench_server prints its --stats line), up to 5 s,
# then SIGKILL.
stop_server() {
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
# CPU time of a process in clock ticks (utime + stime from /proc/PID/stat).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# CPU time of all the process's threads in ns (the scheduler's run time: finer than ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# wait_listening LOG PID: the port of the server's "listening PORT" line in LOG (waits up to
# 20 s, returns 1 if the line never comes or the server exits first). Empty LOG before starting
# the server: the child truncates it only once it runs.
wait_listening() {
  local port=""
  for _ in $(seq 400); do
    port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$1" | head -1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# h2load_parse OUTPUT: sets h2_rps, h2_ok (succeeded) and h2_bad ("FAILEDERRORED", "00" when
# clean) from h2load's report.
h2load_parse() {
  h2_rps=$(sed -n 's/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' <<<"$1")
  h2_ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$1")
  h2_bad=$(sed -n 's/^requests: .* succeeded, \([0-9]*\) failed, \([0-9]*\) errored.*/\1\2/p' <<<"$1")
}

# stats_parse LOG: sets st_ok and st_not_ok from bench_server's last "stats:" line (--stats);
# both empty when there is none (the server crashed or hung).
stats_parse() {
  local line
  line=$(grep -a '^stats:' "$1" | tail -1)
  st_ok=$(sed -n 's/^stats: ok=\([0-9]*\) not_ok=\([0-9]*\).*/\1/p' <<<"$line")
  st_not_ok=$(sed -n 's/^stats: ok=\([0-9]*\) not_ok=\([0-9]*\).*/\2/p' <<<"$line")
}
