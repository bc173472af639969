#!/usr/bin/python3
"""A recording TCP relay on loopback, for seed corpora: accepts connections on 127.0.0.1:<listen>,
relays each to 127.0.0.1:<target>, and writes what each side sent, one file per connection and
direction: <out>-<n>.c2s (client to server) and <out>-<n>.s2c. Captures are cut at --max bytes.

  proxy.py --listen PORT --target PORT --out PREFIX [--max 8192] [--conns N]

Run by hand (tests/fuzz/capture/capture.sh); exits after N connections have closed."""
import argparse
import select
import socket


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--target", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max", type=int, default=8192)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--idle", type=float, default=3.0)
    a = ap.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.listen))
    ls.listen(16)
    for n in range(a.conns):
        ls.settimeout(30)
        c, _ = ls.accept()
        s = socket.create_connection(("127.0.0.1", a.target))
        rec = {c: bytearray(), s: bytearray()}
        peer = {c: s, s: c}
        open_ = {c, s}
        while open_:
            r, _, _ = select.select(list(open_), [], [], a.idle)
            if not r:
                break  # idle: the exchange is over
            for x in r:
                try:
                    d = x.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    open_.discard(x)
                    try:
                        peer[x].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                rec[x] += d
                try:
                    peer[x].sendall(d)
                except OSError:
                    open_.discard(x)
        c.close()
        s.close()
        with open("%s-%d.c2s" % (a.out, n), "wb") as f:
            f.write(bytes(rec[c][: a.max]))
        with open("%s-%d.s2c" % (a.out, n), "wb") as f:
            f.write(bytes(rec[s][: a.max]))


if __name__ == "__main__":
    main()
