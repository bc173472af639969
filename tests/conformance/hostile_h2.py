#!/usr/bin/python3
"""Hostile HTTP/2 clients against examples/http2:hello_server over real TCP.

Starts `hello_server --port=0`, waits (with a deadline) for its "listening on" line, then runs each
case on a fresh connection with a socket timeout, using Python's hyper-h2 (Debian python3-h2) as
the client. Where h2 refuses to send something hostile, the bytes are built with hyperframe/hpack
(h2's own dependencies) and written raw; the server's answer is always parsed by h2. Each case
asserts the exact GOAWAY / RST_STREAM error code RFC 9113 prescribes; at the end, a valid request
on a fresh connection must still be served (the server never crashed). The server is always
stopped (finally), and its stderr is shown if anything fails.

Usage: hostile_h2.py --server path/to/hello_server
"""

import argparse
import ctypes
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import hpack
from hyperframe.frame import DataFrame, HeadersFrame, SettingsFrame, WindowUpdateFrame

START_DEADLINE_S = 60  # the server under ASan starts slowly
SOCKET_TIMEOUT_S = 10
CASE_DEADLINE_S = 15

PROTOCOL_ERROR = h2.errors.ErrorCodes.PROTOCOL_ERROR
FLOW_CONTROL_ERROR = h2.errors.ErrorCodes.FLOW_CONTROL_ERROR
COMPRESSION_ERROR = h2.errors.ErrorCodes.COMPRESSION_ERROR


class CaseFailed(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise CaseFailed(message)


# --------------------------------------------------------------------------------------------
# The server


class Server:
    def __init__(self, path):
        self.path = path
        self.proc = None
        self.port = None
        tmpdir = os.environ.get("TEST_TMPDIR") or tempfile.gettempdir()
        self.stderr = tempfile.NamedTemporaryFile(
            mode="w+b", dir=tmpdir, prefix="hello_server.", suffix=".stderr", delete=False)

    @staticmethod
    def _die_with_parent():
        # PR_SET_PDEATHSIG: the server gets SIGTERM if this script dies without its finally.
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)

    def start(self):
        self.proc = subprocess.Popen([self.path, "--port=0"], stdout=subprocess.PIPE,
                                     stderr=self.stderr, stdin=subprocess.DEVNULL,
                                     preexec_fn=self._die_with_parent)
        deadline = time.monotonic() + START_DEADLINE_S
        line = b""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hello_server exited with %s before listening" %
                                   self.proc.returncode)
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if not ready:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("hello_server closed its stdout before listening")
            line += chunk
            m = re.search(rb"hello_server: listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                return
        raise RuntimeError("hello_server did not print its port within %ss (got %r)" %
                           (START_DEADLINE_S, line))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stops the server; returns its exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: hello_server sends GOAWAY and exits
            try:
                return self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def stderr_text(self):
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# A client connection: h2 state machine over a real socket


class Client:
    def __init__(self, port, validate=True, preface=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
        self.sock.settimeout(SOCKET_TIMEOUT_S)
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
            validate_inbound_headers=True)
        self.conn = h2.connection.H2Connection(config=config)
        self.events = []
        self.closed = False
        self.received = b""
        if preface:
            self.conn.initiate_connection()
            self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_raw(self, data):
        self.sock.sendall(data)

    def pump(self, until, deadline_s=CASE_DEADLINE_S):
        """Reads and feeds h2 until until(self) is true, the peer closes, or the deadline."""
        deadline = time.monotonic() + deadline_s
        while not until(self) and not self.closed and time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                self.closed = True
                break
            if not data:
                self.closed = True
                break
            self.received += data
            try:
                self.events += self.conn.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                self.events.append(e)
            for ev in self.events:
                if isinstance(ev, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            try:
                self.flush()
            except OSError:
                pass
        return self

    def pump_until_closed(self):
        return self.pump(lambda c: False)

    def of(self, kind, stream_id=None):
        return [e for e in self.events if isinstance(e, kind) and
                (stream_id is None or getattr(e, "stream_id", None) == stream_id)]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def describe(client):
    return "events: %r; closed: %s" % (client.events, client.closed)


def expect_connection_error(client, code):
    """GOAWAY(code) received, then the server closes the connection."""
    client.pump_until_closed()
    terminated = client.of(h2.events.ConnectionTerminated)
    check(terminated, "expected GOAWAY %s, got %s" % (code.name, describe(client)))
    check(terminated[0].error_code == code,
          "expected GOAWAY %s, got %r" % (code.name, terminated[0].error_code))
    check(client.closed, "the server did not close the connection after its GOAWAY")


def expect_stream_error(client, stream_id, code):
    """RST_STREAM(code) on stream_id, and no GOAWAY."""
    client.pump(lambda c: c.of(h2.events.StreamReset, stream_id) or
                c.of(h2.events.ConnectionTerminated))
    check(not client.of(h2.events.ConnectionTerminated),
          "connection error instead of a stream error: %s" % describe(client))
    resets = client.of(h2.events.StreamReset, stream_id)
    check(resets, "expected RST_STREAM %s on stream %d, got %s" %
          (code.name, stream_id, describe(client)))
    check(resets[0].error_code == code,
          "expected RST_STREAM %s, got %r" % (code.name, resets[0].error_code))
    check(resets[0].remote_reset, "the reset did not come from the server")


def get(client, stream_id, path="/"):
    """A valid GET on the connection; returns (status, body)."""
    client.conn.send_headers(stream_id, [
        (b":method", b"GET"), (b":scheme", b"http"), (b":path", path.encode()),
        (b":authority", b"localhost")], end_stream=True)
    client.flush()
    client.pump(lambda c: c.of(h2.events.StreamEnded, stream_id) or
                c.of(h2.events.StreamReset, stream_id) or c.of(h2.events.ConnectionTerminated))
    responses = client.of(h2.events.ResponseReceived, stream_id)
    check(responses, "no response on stream %d: %s" % (stream_id, describe(client)))
    status = dict(responses[0].headers).get(b":status")
    body = b"".join(e.data for e in client.of(h2.events.DataReceived, stream_id))
    check(client.of(h2.events.StreamEnded, stream_id), "stream %d did not end" % stream_id)
    return status, body


def expect_served(client, stream_id):
    status, body = get(client, stream_id, "/after")
    check(status == b"200", "status %r on stream %d after the stream error" % (status, stream_id))
    check(b"Hello from h2rpc" in body, "unexpected body %r" % body[:100])


def request_headers(method=b"GET", extra=()):
    return [(b":method", method), (b":scheme", b"http"), (b":path", b"/"),
            (b":authority", b"localhost")] + list(extra)


# --------------------------------------------------------------------------------------------
# Cases: each gets a fresh connection


def case_valid_get_and_post(port):
    """A valid GET and a POST echo: the baseline (RFC 9113 §8)."""
    c = Client(port)
    try:
        status, body = get(c, 1)
        check(status == b"200", "GET status %r" % status)
        check(b"Hello from h2rpc over HTTP/2" in body, "GET body %r" % body[:100])
        c.conn.send_headers(3, request_headers(b"POST", [(b"content-type", b"text/plain")]))
        c.conn.send_data(3, b"ping pong", end_stream=True)
        c.flush()
        c.pump(lambda c: c.of(h2.events.StreamEnded, 3) or c.of(h2.events.StreamReset, 3))
        echoed = b"".join(e.data for e in c.of(h2.events.DataReceived, 3))
        check(echoed == b"ping pong", "POST echoed %r: %s" % (echoed, describe(c)))
        check(not c.of(h2.events.StreamReset), "unexpected reset: %s" % describe(c))
    finally:
        c.close()


def case_bad_preface(port):
    """HTTP/1.1 instead of the preface: connection error PROTOCOL_ERROR (§3.4; GOAWAY MAY be
    omitted, if sent it carries PROTOCOL_ERROR), then close."""
    c = Client(port, preface=False)
    try:
        c.send_raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        c.pump_until_closed()
        check(c.closed, "the server kept the connection open")
        for ev in c.of(h2.events.ConnectionTerminated):
            check(ev.error_code == PROTOCOL_ERROR, "GOAWAY %r" % ev.error_code)
        check(not c.of(h2.events.ResponseReceived), "a response to HTTP/1.1")
        goaways = [repr(e.error_code) for e in c.of(h2.events.ConnectionTerminated)]
        print("  bad_preface: GOAWAY %s, then close" % (", ".join(goaways) or "omitted"))
    finally:
        c.close()


def case_uppercase_header_name(port):
    """`X-Upper` in a request: malformed, stream error PROTOCOL_ERROR (§8.2.1, §8.1.1)."""
    c = Client(port, validate=False)
    try:
        c.conn.send_headers(1, request_headers(extra=[(b"X-Upper", b"1")]), end_stream=True)
        c.flush()
        expect_stream_error(c, 1, PROTOCOL_ERROR)
        expect_served(c, 3)
    finally:
        c.close()


def case_connection_header(port):
    """`connection: keep-alive`: connection-specific, stream error PROTOCOL_ERROR (§8.2.2)."""
    c = Client(port, validate=False)
    try:
        c.conn.send_headers(1, request_headers(extra=[(b"connection", b"keep-alive")]),
                            end_stream=True)
        c.flush()
        expect_stream_error(c, 1, PROTOCOL_ERROR)
        expect_served(c, 3)
    finally:
        c.close()


def case_te_gzip(port):
    """`te: gzip` (only "trailers" is allowed): stream error PROTOCOL_ERROR (§8.2.2)."""
    c = Client(port, validate=False)
    try:
        c.conn.send_headers(1, request_headers(extra=[(b"te", b"gzip")]), end_stream=True)
        c.flush()
        expect_stream_error(c, 1, PROTOCOL_ERROR)
        expect_served(c, 3)
    finally:
        c.close()


def case_missing_path(port):
    """No :path: malformed, stream error PROTOCOL_ERROR (§8.3.1)."""
    c = Client(port, validate=False)
    try:
        headers = [h for h in request_headers() if h[0] != b":path"]
        c.conn.send_headers(1, headers, end_stream=True)
        c.flush()
        expect_stream_error(c, 1, PROTOCOL_ERROR)
        expect_served(c, 3)
    finally:
        c.close()


def case_content_length_mismatch(port):
    """content-length 10 but 3 bytes of DATA then END_STREAM: stream error PROTOCOL_ERROR
    (§8.1.1)."""
    c = Client(port, validate=False)
    try:
        c.conn.send_headers(1, request_headers(b"POST", [(b"content-length", b"10")]))
        c.conn.send_data(1, b"abc", end_stream=True)
        c.flush()
        expect_stream_error(c, 1, PROTOCOL_ERROR)
        expect_served(c, 3)
    finally:
        c.close()


def case_connection_window_overflow(port):
    """WINDOW_UPDATE on stream 0 taking the window past 2^31-1: GOAWAY FLOW_CONTROL_ERROR
    (§6.9.1). h2 refuses to send it, so the frame is written raw."""
    c = Client(port)
    try:
        c.pump(lambda c: c.of(h2.events.RemoteSettingsChanged), 5)
        c.send_raw(WindowUpdateFrame(0, window_increment=2**31 - 1).serialize())
        expect_connection_error(c, FLOW_CONTROL_ERROR)
    finally:
        c.close()


def case_stream_window_overflow(port):
    """WINDOW_UPDATE on an open stream taking its window past 2^31-1: RST_STREAM
    FLOW_CONTROL_ERROR (§6.9.1), the connection goes on."""
    c = Client(port)
    try:
        c.conn.send_headers(1, request_headers(b"POST"))
        c.flush()
        c.send_raw(WindowUpdateFrame(1, window_increment=2**31 - 1).serialize())
        expect_stream_error(c, 1, FLOW_CONTROL_ERROR)
        expect_served(c, 3)
    finally:
        c.close()


def case_data_on_idle_stream(port):
    """DATA on a stream never opened: connection error PROTOCOL_ERROR (§5.1)."""
    c = Client(port)
    try:
        frame = DataFrame(1)
        frame.data = b"hello"
        c.send_raw(frame.serialize())
        expect_connection_error(c, PROTOCOL_ERROR)
    finally:
        c.close()


def case_settings_enable_push_2(port):
    """SETTINGS_ENABLE_PUSH = 2: connection error PROTOCOL_ERROR (§6.5.2)."""
    c = Client(port)
    try:
        c.send_raw(SettingsFrame(0, settings={2: 2}).serialize())
        expect_connection_error(c, PROTOCOL_ERROR)
    finally:
        c.close()


def case_hpack_invalid_index(port):
    """A field block indexing entry 70 (static table: 61, dynamic: empty): connection error
    COMPRESSION_ERROR (§4.3, RFC 7541 §2.3.3)."""
    c = Client(port)
    try:
        frame = HeadersFrame(1)
        frame.data = hpack.Encoder().encode(request_headers()) + bytes([0x80 | 70])
        frame.flags.add("END_HEADERS")
        frame.flags.add("END_STREAM")
        c.send_raw(frame.serialize())
        expect_connection_error(c, COMPRESSION_ERROR)
    finally:
        c.close()


CASES = [
    case_valid_get_and_post,
    case_bad_preface,
    case_uppercase_header_name,
    case_connection_header,
    case_te_gzip,
    case_missing_path,
    case_content_length_mismatch,
    case_connection_window_overflow,
    case_stream_window_overflow,
    case_data_on_idle_stream,
    case_settings_enable_push_2,
    case_hpack_invalid_index,
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="path to the hello_server binary")
    args = parser.parse_args()
    # SIGTERM (Bazel's timeout, the shell's trap) runs the finally below, which stops the server.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    server = Server(args.server)
    failures = []
    try:
        server.start()
        print("hello_server on port %d" % server.port, flush=True)
        for case in CASES:
            name = case.__name__[len("case_"):]
            try:
                case(server.port)
                print("PASS %s" % name, flush=True)
            except Exception:  # pylint: disable=broad-except
                failures.append(name)
                print("FAIL %s\n%s" % (name, traceback.format_exc()), flush=True)
            if not server.alive():
                failures.append("server died after " + name)
                print("FAIL hello_server died (exit %s) after %s" %
                      (server.proc.returncode, name), flush=True)
                break
        if server.alive():
            # The server still serves a valid request on a fresh connection: it never crashed.
            try:
                case_valid_get_and_post(server.port)
                print("PASS still_serving", flush=True)
            except Exception:  # pylint: disable=broad-except
                failures.append("still_serving")
                print("FAIL still_serving\n%s" % traceback.format_exc(), flush=True)
    except Exception:  # pylint: disable=broad-except
        failures.append("setup")
        print("FAIL setup\n%s" % traceback.format_exc(), flush=True)
    finally:
        code = server.stop()
        if server.proc is not None and code not in (0, None) and "setup" not in failures:
            failures.append("server exit code %s" % code)
        if failures:
            print("---- hello_server stderr ----\n%s" % server.stderr_text(), flush=True)

    print("%d cases, %d failed%s" % (len(CASES) + 1, len(failures),
                                      (": " + ", ".join(failures)) if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
