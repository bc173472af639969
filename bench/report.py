#!/usr/bin/python3
"""bench/report.py: turns run.sh's raw measurements into bench/RESULTS.md.

Input: a TSV of `round server client metric value` lines and the commands run.sh logged. Output:
medians over the rounds, the ratio h2rpc / gRPC C++ of the medians, the issue's targets, every
round's values (so the spread is visible) and the exact commands.
"""
import argparse
import collections
import datetime
import os
import platform
import statistics
import subprocess

# (metric, what it is, unit, target ratio h2rpc/gRPC C++, direction: "ge" = higher is better)
FIGURES = [
    ("h2load_unary_0B.rps", "unary 0 B, h2load 8 conns × 32 streams", "req/s", 2.0, "ge"),
    ("h2load_unary_1KiB.rps", "unary 1 KiB (req and resp), h2load 8 × 32", "req/s", 1.5, "ge"),
    ("latency_unary_1x1.p50_us", "unary p50 latency, 1 call in flight (own client)", "µs", None, "le"),
    ("latency_unary_1x1.p99_us", "unary p99 latency, 1 call in flight (own client)", "µs", 0.7, "le"),
    ("pingpong_1x1.ops_per_s", "ping-pong round trips/s, 1 stream (own client)", "msg/s", 1.5, "ge"),
    ("latency_unary_1x1_busy.p99_us", "unary p99 latency, 1 call in flight, busy polling on both sides", "µs", 0.7, "le"),
    ("pingpong_1x1_busy.ops_per_s", "ping-pong round trips/s, busy polling on both sides", "msg/s", 1.5, "ge"),
    ("streaming_64KiB_1x1.mb_per_s", "server streaming 64 KiB messages, 1 stream (own client)", "MB/s", 1.2, "ge"),
    ("rss_kib_per_conn", "RSS per idle connection (1000 connections)", "KiB", 1.0, "le"),
    ("rss_kib_per_active_conn", "RSS per active connection (1000: one unary call made, one "
     "ping-pong call open)", "KiB", None, "le"),
    ("h2load_unary_0B.cpu_us_per_req", "server CPU per request, unary 0 B (h2load run)", "µs", None, "le"),
    ("h2load_unary_1KiB.cpu_us_per_req", "server CPU per request, unary 1 KiB (h2load run)", "µs", None, "le"),
]

IMPLS = [("h2rpc", "h2rpc"), ("grpcpp", "gRPC C++")]
SERVERS = IMPLS + [("grpcgo", "grpc-go")]
NDEBUG_NOTE = "Debian's gRPC C++ is built without NDEBUG (its debug checks cost it a few %)"
CLIENT_BOUND = 0.9  # a client using this share of its CPU or more is the limit of its row


def read_raw(path, failed=()):
    """values[(server, client, metric)] = [per-round values]; rows with no value are skipped, and
    so are all of a server's rows of a round when a failed run names it with metric "*" (its
    --stats count at exit showed calls that went wrong: none of that round's figures count)."""
    broken = {(f[0], f[1]) for f in failed if f[3] == "*"}
    values = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5 or parts[4] == "":
                continue
            rnd, server, client, metric, value = parts
            if (rnd, server) in broken:
                continue
            values[(server, client, metric)].append(float(value))
    return values


def read_rounds(path, failed=()):
    """by_round[(server, client, metric)] = {round: value}, with read_raw's exclusions."""
    broken = {(f[0], f[1]) for f in failed if f[3] == "*"}
    out = collections.defaultdict(dict)
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5 or parts[4] == "" or (parts[0], parts[1]) in broken:
                continue
            out[(parts[1], parts[2], parts[3])][parts[0]] = float(parts[4])
    return out


def ratio_rounds(by_round, a, b):
    """[(round, a/b)] for the rounds in which both keys have a value."""
    ra, rb = by_round.get(a, {}), by_round.get(b, {})
    return [(r, ra[r] / rb[r]) for r in sorted(ra, key=int) if r in rb and rb[r]]


def issue18_rows(values, by_round):
    """The targets of issue 18: (figure, measured, target, met) with met "yes", "**no**" or "—"."""
    med = lambda k: statistics.median(values[k]) if values.get(k) else None  # noqa: E731
    rows = []

    def ratio(what, a, b, target, ge=True):
        x, y = med(a), med(b)
        r = x / y if x is not None and y else None
        met = "—" if r is None else ("yes" if (r >= target if ge else r <= target) else "**no**")
        rows.append((what, "—" if r is None else f"{r:.2f}×", ("≥ " if ge else "≤ ") + f"{target:g}×", met))

    for label, name in (("unary_0B", "unary 0 B"), ("unary_1KiB", "unary 1 KiB")):
        k = lambda s: (s, "h2load", f"h2load_{label}.rps")  # noqa: E731
        ratio(f"{name} req/s, h2rpc / gRPC C++", k("h2rpc"), k("grpcpp"), 3)
        ratio(f"{name} req/s, h2rpc / grpc-go", k("h2rpc"), k("grpcgo"), 2)
        ratio(f"{name} req/s, h2rpc / nghttpd's POST ceiling", k("h2rpc"), k("nghttpd"), 0.6)
    pp = lambda s, c: (s, c, "pingpong_8x32.ops_per_s")  # noqa: E731
    ratio("ping-pong 8 × 32 msg/s, h2rpc's client: h2rpc / grpc-go server", pp("h2rpc", "h2rpc"),
          pp("grpcgo", "h2rpc"), 2)
    ratio("ping-pong 8 × 32 msg/s, h2rpc's client: h2rpc / gRPC C++ server", pp("h2rpc", "h2rpc"),
          pp("grpcpp", "h2rpc"), 5)
    def every_round(what, a, b, target):
        per = ratio_rounds(by_round, a, b)
        rows.append((what, ", ".join(f"{r:.2f}×" for _, r in per) or "—", f"≥ {target:g}× in every round",
                     "—" if not per else ("yes" if all(r >= target for _, r in per) else "**no**")))

    every_round("ping-pong 8 × 32, gRPC C++'s client: h2rpc (default polling) / gRPC C++ server, every round",
                pp("h2rpc", "grpcpp"), pp("grpcpp", "grpcpp"), 1)
    # The same in the sleeping-loop phase (three fresh servers side by side): polling off, and on.
    pp2 = lambda s, v: (s, "grpcpp", f"pingpong_8x32_{v}.ops_per_s")  # noqa: E731
    every_round("ping-pong 8 × 32, gRPC C++'s client, polling phase: h2rpc (idle polling off) / gRPC C++ "
                "server, every round", pp2("h2rpc", "nopoll"), pp2("grpcpp", "ph2"), 1)
    every_round("ping-pong 8 × 32, gRPC C++'s client, polling phase: h2rpc (default polling) / gRPC C++ "
                "server, every round", pp2("h2rpc", "ph2"), pp2("grpcpp", "ph2"), 1)
    ratio("same-policy p99, 1 call in flight (busy polling both sides), h2rpc / gRPC C++",
          ("h2rpc", "h2rpc", "latency_unary_1x1_busy.p99_us"),
          ("grpcpp", "grpcpp", "latency_unary_1x1_busy.p99_us"), 0.7, ge=False)
    ratio("same-policy p99, 1 call in flight (both loops sleeping: h2rpc polling off), h2rpc / gRPC C++",
          ("h2rpc", "h2rpc", "latency_unary_1x1_nopoll.p99_us"),
          ("grpcpp", "grpcpp", "latency_unary_1x1_ph2.p99_us"), 0.7, ge=False)
    ratio("same-policy ping-pong 1 stream (busy polling both sides), h2rpc / gRPC C++",
          ("h2rpc", "h2rpc", "pingpong_1x1_busy.ops_per_s"),
          ("grpcpp", "grpcpp", "pingpong_1x1_busy.ops_per_s"), 1.5)
    ratio("same-policy ping-pong 1 stream (both loops sleeping: h2rpc polling off), h2rpc / gRPC C++",
          ("h2rpc", "h2rpc", "pingpong_1x1_nopoll.ops_per_s"),
          ("grpcpp", "grpcpp", "pingpong_1x1_ph2.ops_per_s"), 1.5)
    st = lambda s, f: (s, s, f"streaming_64KiB_1x1.{f}")  # noqa: E731
    per = ratio_rounds(by_round, st("h2rpc", "mb_per_s"), st("grpcpp", "mb_per_s"))
    rows.append(("64 KiB server streaming MB/s, own clients, h2rpc / gRPC C++, every round",
                 ", ".join(f"{r:.2f}×" for _, r in per) or "—", "≥ 1.3× in every round",
                 "—" if not per else ("yes" if all(r >= 1.3 for _, r in per) else "**no**")))
    ratio("64 KiB streaming client CPU per message, h2rpc / gRPC C++",
          st("h2rpc", "client_cpu_us_per_op"), st("grpcpp", "client_cpu_us_per_op"), 0.8, ge=False)
    ratio("64 KiB streaming server CPU per message, h2rpc / gRPC C++",
          st("h2rpc", "server_cpu_us_per_op"), st("grpcpp", "server_cpu_us_per_op"), 0.8, ge=False)
    rss = med(("h2rpc", "idle_conns", "rss_kib_per_conn"))
    rows.append(("h2rpc RSS per idle connection", "—" if rss is None else f"{fmt(rss)} KiB", "≤ 8 KiB",
                 "—" if rss is None else ("yes" if rss <= 8 else "**no**")))
    active = med(("h2rpc", "idle_conns", "rss_kib_per_active_conn"))
    rows.append(("h2rpc RSS per active connection", "—" if active is None else f"{fmt(active)} KiB",
                 "≤ 12 KiB", "—" if active is None else ("yes" if active <= 12 else "**no**")))
    rows.append(("server instructions per unary call (callgrind)", "bench/PROFILE.md (bench/profile.sh)",
                 "≤ 20k", "—"))
    return rows


def read_failed(path):
    """[(round, server, client, metric, reason)]: the runs run.sh threw out (no value recorded)."""
    rows = []
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 5:
                    rows.append(tuple(parts))
    return rows


def fmt(v):
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def git(*args):
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except Exception:  # noqa: BLE001 (no git: leave it out)
        return ""


def tool_version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()
        return out[0] if out else ""
    except Exception:  # noqa: BLE001
        return ""


def main():
    ap = argparse.ArgumentParser()
    for flag in ["raw", "commands", "out", "load_start", "load_end"]:
        ap.add_argument("--" + flag, required=True)
    ap.add_argument("--server_flags", default="")
    ap.add_argument("--failed", default="")
    for flag in ["rounds", "duration", "warmup", "idle_conns", "server_cpu", "client_cpu", "elapsed",
                 "busy_poll_us"]:
        ap.add_argument("--" + flag, required=True)
    a = ap.parse_args()

    failed = read_failed(a.failed)
    values = read_raw(a.raw, failed)
    by_round = read_rounds(a.raw, failed)

    def series(server, metric):
        for (s, _c, m), v in values.items():
            own = "grpcpp" if server == "grpcgo" else server
            if s == server and m == metric and (_c == own or _c in ("h2load", "idle_conns")):
                return v
        return []

    def median(v):
        return statistics.median(v) if v else None

    out = []
    w = out.append
    w("# Benchmarks: h2rpc vs gRPC C++ (results)")
    w("")
    w("Written by `make bench` (bench/run.sh → bench/report.py); how to read it: bench/README.md. "
      "Where our time goes (callgrind, instructions per request): bench/PROFILE.md.")
    w("")
    commit = git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/RESULTS.md") else ""
    w(f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}; commit `{commit}`{dirty}")
    w(f"- Machine: {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
      f"load average (1/5/15 min) before: {' '.join(a.load_start.split()[:3])}, "
      f"after: {' '.join(a.load_end.split()[:3])}")
    w(f"- Servers pinned to CPU {a.server_cpu}, load generators to CPU {a.client_cpu} (`taskset`); "
      f"{a.rounds} rounds, {a.duration} s measured per run after {a.warmup} s of warm-up; "
      f"{a.elapsed} s in all")
    flags = f" with `{a.server_flags}`" if a.server_flags else " with its defaults"
    w(f"- h2rpc: `bench_server`{flags} (1 event loop). gRPC C++: {tool_version(['pkg-config', '--modversion', 'grpc++']) or '1.51'} "
      f"(Debian libgrpc++), `grpcpp_bench_server`: async API, 1 completion queue, 1 polling thread. "
      f"{tool_version(['h2load', '--version'])}.")
    w("- Every figure is the median over the rounds; ratio = h2rpc / gRPC C++ of the medians. Each "
      "round runs every measurement on both servers back to back (order alternating between rounds), "
      "so only ratios within this run mean anything.")
    w("")
    w("## Against the targets of issue 18 (headline: same-policy figures)")
    w("")
    w("Medians over the surviving rounds (failed runs: \"Failed runs\" below). \"Same policy\" "
      "compares loops that wait the same way: busy polling on both sides, or both sleeping (h2rpc "
      "with idle polling off, against gRPC C++ in the same phase: fresh servers side by side, runs "
      "alternating); h2rpc's default (adaptive idle polling) is in the tables below with "
      f"its CPU cost (\"Idle polling: what it costs\": sparse and paced rows). {NDEBUG_NOTE}.")
    w("")
    w("| figure | measured | target | met |")
    w("|---|---|---|---|")
    for what, measured, target, met in issue18_rows(values, by_round):
        w(f"| {what} | {measured} | {target} | {met} |")
    w("")
    ng = {lbl: median(series("nghttpd", f"h2load_{lbl}.rps")) for lbl in ("unary_0B", "unary_1KiB")}
    if any(ng.values()):
        w("nghttpd's POST ceiling (`nghttpd --no-tls -n 1 -d DOCROOT` serving the gRPC response as "
          "a file at the gRPC path: the same HTTP/2 library without gRPC, the same h2load 8 × 32 "
          "POSTs, on the server CPU): " +
          "; ".join(f"{lbl.replace('unary_', 'unary ').replace('KiB', ' KiB').replace('0B', '0 B')} "
                    f"{fmt(v)} req/s (server CPU "
                    f"{fmt(median(series('nghttpd', f'h2load_{lbl}.cpu_us_per_req')))} µs/req)"
                    for lbl, v in ng.items() if v) + ".")
        w("")
    w("## Against the targets of issue 6")
    w("")
    w(f"Ratios against gRPC C++: {NDEBUG_NOTE}. n = rounds that survived (failed runs are "
      "excluded, listed under \"Failed runs\").")
    w("")
    w("| figure | h2rpc | gRPC C++ | ratio | target | met | grpc-go | h2rpc / grpc-go | n (h2rpc/gRPC C++/grpc-go) |")
    w("|---|---|---|---|---|---|---|---|---|")
    for metric, what, unit, target, direction in FIGURES:
        ours, theirs = median(series("h2rpc", metric)), median(series("grpcpp", metric))
        go = median(series("grpcgo", metric))
        goratio = f"{ours / go:.2f}×" if ours is not None and go else "—"
        counts = "/".join(str(len(series(i, metric))) for i, _ in SERVERS)
        ratio = ours / theirs if ours is not None and theirs else None
        tgt = "—" if target is None else (("≥ " if direction == "ge" else "≤ ") + f"{target:g}×")
        met = "—"
        if target is not None and ratio is not None:
            met = "yes" if (ratio >= target if direction == "ge" else ratio <= target) else "**no**"
        w(f"| {what} ({unit}) | {fmt(ours)} | {fmt(theirs)} | "
          f"{'—' if ratio is None else f'{ratio:.2f}×'} | {tgt} | {met} | {fmt(go)} | {goratio} | {counts} |")
    w("")
    floor_rt = median(series("tcp", "tcp_pingpong.ops_per_s"))
    grpc_pp = median(series("grpcpp", "pingpong_1x1_ph2.ops_per_s"))
    if floor_rt and grpc_pp:
        w("- h2rpc's loops poll for a short learned window after traffic instead of sleeping "
          "(adaptive idle polling, its default; transport/README.md); gRPC C++'s sleep. The floor "
          f"of sleeping: a bare loopback TCP ping-pong (`tcp_pingpong`, blocking) makes {fmt(floor_rt)} "
          f"round trips/s, {floor_rt / grpc_pp:.2f}× gRPC C++'s ping-pong" +
          (": with loops that sleep no stack can reach 1.5× here" if floor_rt / grpc_pp < 1.5 else "") +
          ". See \"Latency: the floor under it\" (h2rpc with polling off, busy polling on both "
          "stacks) and \"Idle polling: what it costs\".")
        w("")
    w("## Clients: h2rpc's `bench_client` vs gRPC C++'s `grpcpp_bench_client`")
    w("")
    w("Unary 0 B, 8 channels × 32 calls in flight, closed loop, one client thread on its own CPU. "
      "Client CPU per call is the client process's CPU time (getrusage) over the measured time "
      "divided by the calls.")
    w("")
    w("| server | client | calls/s | p99 µs | client CPU µs/call | server CPU µs/call |")
    w("|---|---|---|---|---|---|")
    for server, sname in SERVERS:
        for client, cname in IMPLS:
            get = lambda f: median(values.get((server, client, f"client_unary_8x32.{f}"), []))  # noqa: E731
            w(f"| {sname} | {cname} | {fmt(get('ops_per_s'))} | {fmt(get('p99_us'))} | "
              f"{fmt(get('client_cpu_us_per_op'))} | {fmt(get('server_cpu_us_per_op'))} |")
    w("")
    for server, sname in SERVERS:
        ours = median(values.get((server, "h2rpc", "client_unary_8x32.ops_per_s"), []))
        theirs = median(values.get((server, "grpcpp", "client_unary_8x32.ops_per_s"), []))
        ocpu = median(values.get((server, "h2rpc", "client_unary_8x32.client_cpu_us_per_op"), []))
        tcpu = median(values.get((server, "grpcpp", "client_unary_8x32.client_cpu_us_per_op"), []))
        if ours and theirs:
            w(f"- Against the {sname} server: h2rpc's client makes {ours / theirs:.2f}× the calls/s "
              f"of gRPC C++'s" + (f", at {ocpu / tcpu:.2f}× the CPU per call." if ocpu and tcpu else "."))
    w("")
    w("Server streaming, 64 KiB messages, 1 stream: every client against every server (MB/s; "
      "client and server CPU µs per message: each process's CPU time over the run / the messages).")
    w("")
    w("| server | client | MB/s | MB/s per round | client CPU µs/msg | server CPU µs/msg |")
    w("|---|---|---|---|---|---|")
    for server, sname in SERVERS:
        for client, cname in IMPLS:
            get = lambda f: median(values.get((server, client, f"streaming_64KiB_1x1.{f}"), []))  # noqa: E731
            rounds = values.get((server, client, "streaming_64KiB_1x1.mb_per_s"), [])
            w(f"| {sname} | {cname} | {fmt(get('mb_per_s'))} | {', '.join(fmt(v) for v in rounds)} | "
              f"{fmt(get('client_cpu_us_per_op'))} | {fmt(get('server_cpu_us_per_op'))} |")
    w("")
    conc = [(shape, server, sname, client, cname)
            for shape in ("8x32", "64x1") for server, sname in SERVERS for client, cname in IMPLS
            if values.get((server, client, f"pingpong_{shape}.ops_per_s"))]
    if conc:
        w("## Concurrent ping-pong")
        w("")
        w("Bidirectional streams, each with one message in flight (request, response, next "
          "request): 8 channels × 32 streams and 64 channels × 1 stream, every client against every "
          "server. Client CPU = the client's CPU per message × messages/s (share of its one CPU): "
          f"at ≥ {CLIENT_BOUND:.0%} the client, not the server, is the limit (\"client-bound\"). "
          "Server CPU per message: the server's run time over the run / the messages. "
          f"{NDEBUG_NOTE}.")
        w("")
        w("| streams | server | client | msg/s (median) | msg/s per round | client CPU | server CPU µs/msg | p99 µs | |")
        w("|---|---|---|---|---|---|---|---|---|")
        for shape, server, sname, client, cname in conc:
            get = lambda f: values.get((server, client, f"pingpong_{shape}.{f}"), [])  # noqa: E731
            rate, cpu = median(get("ops_per_s")), median(get("client_cpu_us_per_op"))
            util = rate * cpu / 1e6 if rate and cpu else None
            bound = "client-bound" if util is not None and util >= CLIENT_BOUND else ""
            w(f"| {shape.replace('x', ' × ')} | {sname} | {cname} | {fmt(rate)} | "
              f"{', '.join(fmt(v) for v in get('ops_per_s'))} | "
              f"{'—' if util is None else f'{util:.0%}'} | {fmt(median(get('server_cpu_us_per_op')))} | "
              f"{fmt(median(get('p99_us')))} | {bound} |")
        w("")
    floor = median(series("tcp", "tcp_pingpong.ops_per_s"))
    if floor:
        w("## Latency: the floor under it")
        w("")
        w("With loops that sleep when idle, one call or message in flight is bound by the time the "
          "kernel takes to wake the thread sleeping on the other CPU, not by either stack. "
          "`tcp_pingpong` bounces 40 bytes over loopback TCP with nothing on top: the fastest any "
          "HTTP/2 stack could go with sleeping loops. h2rpc's default loops poll for a learned "
          "window after traffic instead (adaptive idle polling); its rows with polling off show "
          f"what sleeping costs. With busy polling (`--busy_poll_us={a.busy_poll_us}` on server and "
          "client, both stacks) nobody sleeps while traffic flows and the stacks' own costs show. "
          "The rows gRPC C++ default, h2rpc polling off and h2rpc default "
          "come from one phase: three fresh servers side by side, each run on the three in turn. "
          "Client CPU per call is the client's CPU time / calls (it includes the kernel's cost of "
          "sleeping and waking, or of polling).")
        w("")
        w("| | round trips/s | p50 µs | p99 µs | unary calls/s | unary p50 µs | unary p99 µs | client CPU µs/call |")
        w("|---|---|---|---|---|---|---|---|")
        rows = [("tcp", "tcp_pingpong", None, "bare TCP, blocking"),
                ("grpcpp", "pingpong_1x1_ph2", "latency_unary_1x1_ph2", "gRPC C++, default (blocking)"),
                ("h2rpc", "pingpong_1x1_nopoll", "latency_unary_1x1_nopoll",
                 "h2rpc, idle polling off (blocking, as Node)"),
                ("h2rpc", "pingpong_1x1_ph2", "latency_unary_1x1_ph2", "h2rpc, default (adaptive idle polling)"),
                ("tcp", "tcp_pingpong_busy", None, "bare TCP, busy polling"),
                ("grpcpp", "pingpong_1x1_busy", "latency_unary_1x1_busy", "gRPC C++, busy polling"),
                ("h2rpc", "pingpong_1x1_busy", "latency_unary_1x1_busy", "h2rpc, busy polling")]
        for impl, pp, unary, label in rows:
            p = lambda f: median(series(impl, f"{pp}.{f}"))  # noqa: E731
            u = lambda f: median(series(impl, f"{unary}.{f}")) if unary else None  # noqa: E731
            w(f"| {label} | {fmt(p('ops_per_s'))} | {fmt(p('p50_us'))} | {fmt(p('p99_us'))} | "
              f"{fmt(u('ops_per_s'))} | {fmt(u('p50_us'))} | {fmt(u('p99_us'))} | {fmt(u('client_cpu_us_per_op'))} |")
        w("")
    sparse = {v: median(series("h2rpc", f"sparse_unary_{v}.ops_per_s")) for v in ("nopoll", "ours")}
    if any(sparse.values()):
        w("## Idle polling: what it costs")
        w("")
        w("h2rpc against itself, polling off on both sides (`--adaptive_poll_max_us=0`) and the "
          "default adaptive polling. Back to back (one call in flight, next call at once) polling "
          "pays: the loops stop waiting for wake-ups. Sparse (`--think_ms=1`: a 1 ms pause after "
          "each call, longer than the 100 µs maximum window) it should not poll at all, so cost "
          "nothing. Server CPU per call: the server's CPU time (/proc) over the run / the calls.")
        w("")
        w("| traffic | idle polling | calls/s | p50 µs | p99 µs | client CPU µs/call | server CPU µs/call |")
        w("|---|---|---|---|---|---|---|")
        for metric, traffic in (("latency_unary_1x1", "back to back"), ("sparse_unary", "sparse (1 ms pauses)")):
            for suffix, label in (("_nopoll", "off"), ("_ph2", "adaptive (default)")) if metric != "sparse_unary" else \
                    (("_nopoll", "off"), ("_ours", "adaptive (default)")):
                g = lambda f: median(series("h2rpc", f"{metric}{suffix}.{f}"))  # noqa: E731
                w(f"| {traffic} | {label} | {fmt(g('ops_per_s'))} | {fmt(g('p50_us'))} | {fmt(g('p99_us'))} | "
                  f"{fmt(g('client_cpu_us_per_op'))} | {fmt(g('server_cpu_us_per_op'))} |")
        paced = [r for r in (4000, 20000) if median(series("h2rpc", f"paced_{r}.server_cpu_pct"))]
        if paced:
            w("")
            w("Paced load: unary 0 B from `h2load -c 8 -m 1 --rps=N` (8 connections, one call at a "
              "time each, N calls/s each), so the server's loop is idle between requests: the "
              "server's CPU (scheduler run time, all threads) and h2load's mean request time.")
            w("")
            w("| load | server | server CPU (% of one CPU) | server CPU µs/request | mean request µs |")
            w("|---|---|---|---|---|")
            for r in paced:
                for impl, name in (("h2rpc_nopoll", "h2rpc, idle polling off"),
                                   ("h2rpc", "h2rpc, default (adaptive)"), ("grpcpp", "gRPC C++"),
                                   ("grpcgo", "grpc-go")):
                    g = lambda f: median(series(impl, f"paced_{r}.{f}"))  # noqa: E731
                    w(f"| {r:,} calls/s | {name} | {fmt(g('server_cpu_pct'))} | "
                      f"{fmt(g('cpu_us_per_req'))} | {fmt(g('mean_us'))} |")
        st = lambda v: median(series("h2rpc", f"streaming_64KiB_1x1{v}.mb_per_s"))  # noqa: E731
        if st("_nopoll") and st("_ph2"):
            w("")
            sc = lambda v: median(series("h2rpc", f"streaming_64KiB_1x1{v}.server_cpu_us_per_op"))  # noqa: E731
            w(f"- Server streaming 64 KiB, own client: {fmt(st('_nopoll'))} MB/s with polling off, "
              f"{fmt(st('_ph2'))} MB/s with the default (gRPC C++: "
              f"{fmt(median(series('grpcpp', 'streaming_64KiB_1x1_ph2.mb_per_s')))} MB/s), measured "
              "in the same phase (three fresh servers side by side, runs alternating); the server's "
              f"CPU per message {fmt(sc('_nopoll'))} µs and {fmt(sc('_ph2'))} µs.")
        pp2 = lambda s, v, f: median(values.get((s, "grpcpp", f"pingpong_8x32_{v}.{f}"), []))  # noqa: E731
        if pp2("h2rpc", "nopoll", "ops_per_s") and pp2("h2rpc", "ph2", "ops_per_s"):
            w(f"- Concurrent ping-pong 8 × 32 with gRPC C++'s client (the client is the limit), same phase: "
              f"{fmt(pp2('h2rpc', 'nopoll', 'ops_per_s'))} msg/s with polling off, "
              f"{fmt(pp2('h2rpc', 'ph2', 'ops_per_s'))} msg/s with the default, gRPC C++'s server "
              f"{fmt(pp2('grpcpp', 'ph2', 'ops_per_s'))} msg/s; server CPU per message "
              f"{fmt(pp2('h2rpc', 'nopoll', 'server_cpu_us_per_op'))}, "
              f"{fmt(pp2('h2rpc', 'ph2', 'server_cpu_us_per_op'))} and "
              f"{fmt(pp2('grpcpp', 'ph2', 'server_cpu_us_per_op'))} µs; gRPC C++'s client CPU per message "
              f"{fmt(pp2('h2rpc', 'nopoll', 'client_cpu_us_per_op'))}, "
              f"{fmt(pp2('h2rpc', 'ph2', 'client_cpu_us_per_op'))} and "
              f"{fmt(pp2('grpcpp', 'ph2', 'client_cpu_us_per_op'))} µs.")
        w("")
    scale = {(impl, loops): median(series(impl, f"h2load_unary_0B_all_cpus_loops{loops}.rps"))
             for impl, _ in IMPLS for loops in (1, 2)}
    if any(scale.values()):
        w("## Scaling: `--loops=1` and `--loops=2`")
        w("")
        w(f"Unary 0 B, h2load 8 × 32 with 2 threads; server and h2load both on all {os.cpu_count()} "
          "CPUs (no CPU is left for a separate load generator). req/s here is shared with h2load; "
          "server CPU per request shows whether a second loop adds overhead (bench/README.md, "
          "\"N cores\").")
        w("")
        w("| server | loops | req/s | server CPU µs/req | req/s vs 1 loop |")
        w("|---|---|---|---|---|")
        for impl, name in IMPLS:
            for loops in (1, 2):
                rps = scale[(impl, loops)]
                cpu = median(series(impl, f"h2load_unary_0B_all_cpus_loops{loops}.cpu_us_per_req"))
                rel = rps / scale[(impl, 1)] if rps and scale[(impl, 1)] else None
                w(f"| {name} | {loops} | {fmt(rps)} | {fmt(cpu)} | {'—' if rel is None else f'{rel:.2f}×'} |")
        w("")
    w("## Failed runs")
    w("")
    if failed:
        w("A run with errors, no result, or a server no longer answering with grpc-status 0 records "
          "no value: it is excluded from the medians above (which are over the surviving rounds) and "
          "listed here. Metric `*`: the server's own count at exit (`--stats`) showed calls that "
          "went wrong, so all its rows of that round are excluded.")
        w("")
        w("| round | server | client | metric | reason |")
        w("|---|---|---|---|---|")
        for rnd, server, client, metric, reason in failed:
            w(f"| {rnd} | {server} | {client} | {metric} | {reason.replace('|', '/')} |")
    else:
        w("None: every run of every round succeeded (errors = 0, grpc-status 0 checked).")
    w("")
    w("## Every round")
    w("")
    w("| metric | server | client | values per round |")
    w("|---|---|---|---|")
    for (server, client, metric) in sorted(values):
        w(f"| {metric} | {server} | {client} | {', '.join(fmt(v) for v in values[(server, client, metric)])} |")
    w("")
    w("## Commands")
    w("")
    w("`$BIN` is `bazel-bin/bench` of `bazel build --config=opt` (`bazel info --config=opt "
      "bazel-bin`); `$WORK` holds the request bodies h2load posts, written by "
      "`$BIN/make_request --req_size=0 --resp_size=0 $WORK/req0.bin` and "
      "`--req_size=1024 --resp_size=1024 $WORK/req1k.bin` (5-byte gRPC prefix + SimpleRequest). "
      "Ports are the ones picked in round 1. Each h2load run is preceded by the same command with "
      f"`-D {a.warmup}` (warm-up, not measured); the server's CPU time is read from /proc/PID/stat "
      "before and after the measured run.")
    w("")
    w("```sh")
    with open(a.commands) as f:
        seen = set()
        for line in f:
            line = line.rstrip("\n")
            if line and line not in seen:
                seen.add(line)
                w(line)
    w("```")
    w("")
    with open(a.out, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
