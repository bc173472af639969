#!/usr/bin/python3
"""bench/protocols_report.py: turns bench/protocols.sh's raw figures into bench/PROTOCOLS.md.

Input: a TSV of `round kind size metric value` lines, a TSV of failed runs (`round kind size
reason`) and the commands the script ran. Output: per kind and payload size, the median req/s
over the surviving rounds, the median server CPU µs per request, and the ratio of the req/s to
gRPC's (same size); every round's req/s (the spread), the failed runs and the commands.
"""
import argparse
import collections
import datetime
import platform
import statistics

LABELS = {
    "grpc": ("gRPC", "application/grpc", "HTTP/2"),
    "grpcweb": ("gRPC-Web", "application/grpc-web+proto", "HTTP/2"),
    "grpcwebtext": ("gRPC-Web text", "application/grpc-web-text (base64 body)", "HTTP/2"),
    "connect_proto": ("Connect unary proto", "application/proto (bare message)", "HTTP/2"),
    "connect_json": ("Connect unary JSON", "application/json", "HTTP/2"),
}
SIZES = [("0", "0 B"), ("1k", "1 KiB")]


def label(kind):
    h1 = kind.startswith("h1_")
    name, ctype, version = LABELS[kind[3:] if h1 else kind]
    return name, ctype, "HTTP/1.1 (32 pipelined per connection)" if h1 else version


def main():
    ap = argparse.ArgumentParser()
    for a in ("raw", "failed", "commands", "out", "kinds", "load_start", "load_end", "commit"):
        ap.add_argument("--" + a, required=True)
    for a in ("rounds", "duration", "warmup", "server_cpu", "client_cpu", "elapsed"):
        ap.add_argument("--" + a, required=True, type=int)
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    values = collections.defaultdict(list)  # (kind, size, metric) -> [values by round]
    by_round = collections.defaultdict(dict)  # (kind, size) -> {round: rps}
    for line in open(args.raw):
        rnd, kind, size, metric, value = line.rstrip("\n").split("\t")
        values[(kind, size, metric)].append(float(value))
        if metric == "rps":
            by_round[(kind, size)][int(rnd)] = float(value)
    failed = [line.rstrip("\n").split("\t", 3) for line in open(args.failed) if line.strip()]

    def med(kind, size, metric):
        v = values.get((kind, size, metric))
        return statistics.median(v) if v else None

    out = []
    w = out.append
    w("# What each protocol costs beside gRPC (bench/protocols.sh)")
    w("")
    w("`make bench-protocols` writes this file. The same bench_server (1 loop, `--stats "
      "--allow_http1`, taskset on CPU %d) under the same h2load load (8 connections × 32 streams "
      "of unary `UnaryCall` POSTs, taskset on CPU %d), one fresh server per run; 0 B and 1 KiB "
      "request and response payloads. A run counts only if one request of its kind answered OK "
      "before and after it, h2load saw no failed or errored request and the server's `--stats` "
      "showed no call ending not OK." % (args.server_cpu, args.client_cpu))
    w("")
    w("Commit %s, %s, %s; %d round(s) of %d s (+%d s warm-up) per run; %d s in all; load "
      "average %s at the start, %s at the end." % (
          args.commit, datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
          platform.node(), args.rounds, args.duration, args.warmup, args.elapsed,
          " ".join(args.load_start.split()[:3]), " ".join(args.load_end.split()[:3])))
    w("")
    w("| protocol | content-type | HTTP | payload | req/s (median) | server CPU µs/req | "
      "req/s ÷ gRPC's |")
    w("|---|---|---|---|---:|---:|---:|")
    for size, size_label in SIZES:
        base = med("grpc", size, "rps")
        for kind in kinds:
            name, ctype, version = label(kind)
            rps = med(kind, size, "rps")
            cpu = med(kind, size, "cpu_us_per_req")
            ratio = "%.2f" % (rps / base) if rps is not None and base else "–"
            w("| %s | `%s` | %s | %s | %s | %s | %s |" % (
                name, ctype, version, size_label,
                "%.0f" % rps if rps is not None else "failed",
                "%.2f" % cpu if cpu is not None else "–", ratio))
    w("")
    w("## Every round (req/s)")
    w("")
    w("| protocol | HTTP | payload | " + " | ".join("round %d" % r for r in range(1, args.rounds + 1)) + " |")
    w("|---|---|---|" + "---:|" * args.rounds)
    for size, size_label in SIZES:
        for kind in kinds:
            name, _, version = label(kind)
            rounds = by_round.get((kind, size), {})
            w("| %s | %s | %s | %s |" % (name, version.split(" ")[0], size_label, " | ".join(
                "%.0f" % rounds[r] if r in rounds else "failed" for r in range(1, args.rounds + 1))))
    w("")
    w("## Failed runs (excluded)")
    w("")
    if failed:
        w("| round | protocol | payload | reason |")
        w("|---|---|---|---|")
        for rnd, kind, size, reason in failed:
            w("| %s | %s | %s | %s |" % (rnd, " ".join(label(kind)[::2]), dict(SIZES)[size],
                                         reason.replace("|", "\\|")))
    else:
        w("None.")
    w("")
    w("## Commands (round 1; `$BIN`: bazel-bin/bench, `$WORK`: the bodies from make_request)")
    w("")
    w("```")
    out.extend(open(args.commands).read().rstrip("\n").split("\n"))
    w("```")
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
