#!/usr/bin/python3
"""Writes the hand-made seeds of tests/fuzz/corpus/ (files named hand-*): small inputs that reach
each branch the fuzz targets choose by option bits, and each frame type, header and message kind
the parsers handle. Run by hand from the repository root; deterministic."""
import gzip
import os
import struct
import zlib

C = "tests/fuzz/corpus"


def put(target, name, data):
    os.makedirs(os.path.join(C, target), exist_ok=True)
    with open(os.path.join(C, target, "hand-" + name), "wb") as f:
        f.write(data)


# --- HTTP/2 by hand (RFC 9113, RFC 7541) ------------------------------------------------------
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(t, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", stream) + payload


def hint(prefix_bits, first, value):
    mx = (1 << prefix_bits) - 1
    if value < mx:
        return bytes([first | value])
    out = [first | mx]
    value -= mx
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def lit(name, value):  # literal without indexing, new name
    return b"\x00" + hint(7, 0, len(name)) + name + hint(7, 0, len(value)) + value


def lit_inc(name, value):  # literal with incremental indexing, new name
    return b"\x40" + hint(7, 0, len(name)) + name + hint(7, 0, len(value)) + value


def block(fields):
    return b"".join(lit(n, v) for n, v in fields)


DATA, HEADERS, PRIORITY, RST, SETTINGS, PUSH, PING, GOAWAY, WINUP, CONT = range(10)
ES, EH, PADDED, PRIO = 1, 4, 8, 0x20
SETTINGS0 = frame(SETTINGS, 0, 0, b"")
ACK = frame(SETTINGS, 1, 0, b"")


def req(path, method=b"GET", extra=()):
    return [(b":method", method), (b":scheme", b"http"), (b":path", path),
            (b":authority", b"localhost")] + list(extra)


def srv(name, body, options=0, split=0, advance=0):
    put("server_session", name, bytes([options]) + struct.pack(">H", split) + bytes([advance]) + body)


start = PREFACE + SETTINGS0 + ACK
# One stream per application behaviour ('0'..'7' = pick % 8), each with a body.
s = start
for i in range(8):
    sid = 1 + 2 * i
    s += frame(HEADERS, EH, sid, block(req(b"/" + str(i).encode(), b"POST")))
    s += frame(DATA, 0, sid, b"x" * 100)
    s += frame(DATA, ES, sid, b"end")
s += frame(WINUP, 0, 0, struct.pack(">I", 1 << 20)) + frame(WINUP, 0, 3, struct.pack(">I", 1 << 20))
srv("each_handler", s)
srv("each_handler_split_timeouts", s, options=32, split=0x0003, advance=10)
srv("each_handler_small_limits", s, options=16 | 2 | 4)
srv("graceful_close", s, options=8)
# Every frame type, flags and edge the server must handle.
s = start
s += frame(HEADERS, EH | PADDED | PRIO, 1, b"\x03" + struct.pack(">I", 0) + b"\x10" + block(req(b"/1", b"POST")) + b"\0\0\0")
s += frame(DATA, PADDED, 1, b"\x02ab\0\0")
s += frame(PRIORITY, 0, 3, struct.pack(">I", 1) + b"\x20")
s += frame(PING, 0, 0, b"12345678") + frame(PING, 1, 0, b"12345678")
s += frame(SETTINGS, 0, 0, struct.pack(">HI", 1, 0) + struct.pack(">HI", 4, 1) + struct.pack(">HI", 5, 1 << 14) + struct.pack(">HI", 6, 100))
s += frame(HEADERS, 0, 3, lit(b":method", b"GET") + lit(b":scheme", b"http"))
s += frame(CONT, EH | ES, 3, lit(b":path", b"/0") + lit(b":authority", b"h"))
s += frame(RST, 0, 1, struct.pack(">I", 8))
s += frame(WINUP, 0, 0, struct.pack(">I", 100))
s += frame(0xFA, 0, 0, b"unknown extension frame")
s += frame(HEADERS, EH | ES, 5, lit_inc(b"x-cached", b"v" * 40) + block(req(b"/3")))
s += frame(HEADERS, EH | ES, 7, b"\xbe" + block(req(b"/2")))  # indexes the dynamic table
s += frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0) + b"bye")
srv("frame_zoo", s)
srv("frame_zoo_bytewise", s, split=0x0010)
# Errors: bad preface, stream 0 HEADERS, DATA on idle stream, oversized frame, bad HPACK.
srv("bad_preface", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
srv("headers_on_stream0", start + frame(HEADERS, EH | ES, 0, block(req(b"/"))))
srv("data_idle_stream", start + frame(DATA, ES, 9, b"x"))
srv("frame_too_large", start + struct.pack(">I", 1 << 20)[1:] + bytes([DATA, 0]) + struct.pack(">I", 1) + b"x" * 64)
srv("bad_hpack", start + frame(HEADERS, EH | ES, 1, b"\xff\xff\xff\xff\xff\x7f"))
srv("missing_pseudo", start + frame(HEADERS, EH | ES, 1, block([(b":method", b"GET")])))
srv("uppercase_header", start + frame(HEADERS, EH | ES, 1, block(req(b"/0", extra=[(b"X-Up", b"1")]))))
srv("connection_header", start + frame(HEADERS, EH | ES, 1, block(req(b"/0", extra=[(b"connection", b"close")]))))
srv("content_length_mismatch", start + frame(HEADERS, EH, 1, block(req(b"/1", b"POST", [(b"content-length", b"10")]))) + frame(DATA, ES, 1, b"abc"))
srv("window_overflow", start + frame(HEADERS, EH, 1, block(req(b"/3"))) + frame(WINUP, 0, 1, struct.pack(">I", 0x7FFFFFFF)) * 2)
srv("rapid_reset", start + b"".join(frame(HEADERS, EH, 2 * i + 1, block(req(b"/7"))) + frame(RST, 0, 2 * i + 1, struct.pack(">I", 8)) for i in range(20)))
srv("continuation_flood", start + frame(HEADERS, 0, 1, block(req(b"/0"))[:10]) + b"".join(frame(CONT, 0, 1, b"\x00\x01a\x01b") for _ in range(50)))
srv("settings_ack_only", PREFACE + ACK + ACK)

# --- client session: what a server answers on streams 1, 3, 5, 7 ------------------------------
def cli(name, body, options=0, split=0, advance=0):
    put("client_session", name, bytes([options]) + struct.pack(">H", split) + bytes([advance]) + body)


S200 = b"\x88"  # :status 200, static index 8
s = SETTINGS0 + ACK
s += frame(HEADERS, EH, 1, S200 + lit(b"content-type", b"text/plain")) + frame(DATA, ES, 1, b"hello")
s += frame(HEADERS, EH, 3, lit(b":status", b"100")) + frame(HEADERS, EH, 3, S200) + frame(DATA, 0, 3, b"a" * 200) + frame(HEADERS, EH | ES, 3, lit(b"x-trailer", b"1"))
s += frame(HEADERS, EH, 5, S200) + frame(DATA, PADDED | ES, 5, b"\x01ok\0")
s += frame(HEADERS, EH, 7, S200 + lit(b"content-type", b"application/grpc")) + frame(DATA, 0, 7, b"\0\0\0\0\x02hi") + frame(HEADERS, EH | ES, 7, lit(b"grpc-status", b"0") + lit(b"grpc-message", b"ok"))
s += frame(PING, 0, 0, b"abcdefgh") + frame(WINUP, 0, 0, struct.pack(">I", 65535))
cli("every_stream_answered", s)
cli("every_stream_answered_split", s, options=8 | 2, split=0x0004)
cli("cancel_and_timeouts", s, options=4 | 32, advance=5)
cli("late_request_close", s, options=2 | 64)
cli("small_limits", s, options=16)
cli("trailers_only", SETTINGS0 + frame(HEADERS, EH | ES, 7, S200 + lit(b"content-type", b"application/grpc") + lit(b"grpc-status", b"12")))
cli("rst_each", SETTINGS0 + b"".join(frame(RST, 0, i, struct.pack(">I", 7)) for i in (1, 3, 5, 7)))
cli("goaway_last1", SETTINGS0 + frame(HEADERS, EH | ES, 1, S200) + frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0)), options=2)
cli("push_promise", SETTINGS0 + frame(PUSH, EH, 1, struct.pack(">I", 2) + block(req(b"/pushed"))))
cli("response_on_idle_stream", SETTINGS0 + frame(HEADERS, EH | ES, 9, S200))
cli("data_before_headers", SETTINGS0 + frame(DATA, ES, 1, b"x"))
cli("bad_status", SETTINGS0 + frame(HEADERS, EH | ES, 1, lit(b":status", b"abc")))
cli("no_settings", frame(HEADERS, EH | ES, 1, S200))
cli("settings_change", SETTINGS0 + frame(SETTINGS, 0, 0, struct.pack(">HI", 4, 0) + struct.pack(">HI", 3, 1)) + frame(WINUP, 0, 3, struct.pack(">I", 10)))

# --- rpc server (structured: header lines, blank line, body) ----------------------------------
def msg(payload, compressed=False):
    return bytes([1 if compressed else 0]) + struct.pack(">I", len(payload)) + payload


def echo(text=b"", count=0, payload=b"", sleep_ms=0, status=0):
    out = b""
    if text:
        out += b"\x0a" + bytes([len(text)]) + text
    if count:
        out += b"\x10" + bytes([count])
    if payload:
        out += b"\x1a" + bytes([len(payload)]) + payload
    if sleep_ms:
        out += b"\x20" + bytes([sleep_ms])
    if status:
        out += b"\x28" + bytes([status])
    return out


def rpc(name, method, body, options=0, split=0, extra=(), headers=None):
    h = headers if headers is not None else [
        (b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/h2rpc.rpc_test.Echo/" + method),
        (b":authority", b"localhost"), (b"content-type", b"application/grpc"), (b"te", b"trailers")]
    h = h + list(extra)
    text = b"".join(n + b" " + v + b"\n" for n, v in h) + b"\n"
    put("rpc_server", name, bytes([options]) + struct.pack(">H", split) + text + body)


rpc("unary", b"Unary", msg(echo(b"hello")))
rpc("unary_split", b"Unary", msg(echo(b"hello")), split=0x0002)
rpc("unary_deadline_sleep", b"Unary", msg(echo(b"zz", sleep_ms=100)), options=8, extra=[(b"grpc-timeout", b"50m")])
rpc("unary_error_details", b"Unary", msg(echo(b"not found", payload=b"\x01\x02", status=5)))
rpc("server_stream", b"Stream", msg(echo(count=3)))
rpc("collect_tiny_frames", b"Collect", msg(echo(b"a")) + msg(echo(b"b")) + msg(echo(b"c")), options=32)
rpc("chat_open", b"Chat", msg(echo(b"1")) + msg(echo(b"2")), options=2)
rpc("chat_reset", b"Chat", msg(echo(b"1")), options=4 | 2)
rpc("twice", b"Unary", msg(echo(b"x")), options=16)
rpc("gzip", b"Unary", msg(gzip.compress(echo(b"zipped")), True), extra=[(b"grpc-encoding", b"gzip"), (b"grpc-accept-encoding", b"identity,deflate,gzip")])
rpc("deflate", b"Unary", msg(zlib.compress(echo(b"deflated")), True), extra=[(b"grpc-encoding", b"deflate")])
rpc("compressed_flag_identity", b"Unary", msg(echo(b"x"), True))
rpc("corrupt_gzip", b"Unary", msg(b"\x1f\x8b garbage", True), extra=[(b"grpc-encoding", b"gzip")])
rpc("unsupported_encoding", b"Unary", msg(echo(b"x")), extra=[(b"grpc-encoding", b"snappy")])
rpc("bad_timeout", b"Unary", msg(echo(b"x")), extra=[(b"grpc-timeout", b"1x")])
rpc("metadata", b"Unary", msg(echo(b"x")), extra=[(b"x-user", b"alice"), (b"trace-bin", b"AAECAw=="), (b"x-multi-bin", b"AA, AQ")])
rpc("bad_bin_metadata", b"Unary", msg(echo(b"x")), extra=[(b"x-bin", b"!!!")])
rpc("too_large", b"Unary", msg(echo(b"x" * 120)), options=64)
rpc("two_messages_unary", b"Unary", msg(echo(b"a")) + msg(echo(b"b")))
rpc("no_message_unary", b"Unary", b"")
rpc("truncated_message", b"Unary", msg(echo(b"hello"))[:6])
rpc("unparsable_message", b"Unary", msg(b"\xff\xff\xff"))
rpc("unknown_method", b"Nope", msg(echo(b"x")))
rpc("unknown_service", b"", b"", headers=[(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/x.Y/Z"), (b":authority", b"h"), (b"content-type", b"application/grpc")])
rpc("get", b"", b"", headers=[(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/h2rpc.rpc_test.Echo/Unary"), (b":authority", b"h")])
rpc("bad_content_type", b"Unary", msg(echo(b"x")), extra=[(b"content-type", b"text/plain")])
rpc("content_type_proto", b"Unary", msg(echo(b"x")), headers=[(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/h2rpc.rpc_test.Echo/Unary"), (b":authority", b"h"), (b"content-type", b"application/grpc+proto")])
rpc("repeated_fields", b"Unary", msg(echo(b"x")), extra=[(b"grpc-timeout", b"1S"), (b"grpc-timeout", b"2S"), (b"grpc-encoding", b"gzip"), (b"grpc-encoding", b"identity")])

# --- deframer: options, split (2), preallocation, then the DATA bytes ---------------------------
def dfr(name, data, options=0, split=0, pre=0):
    put("deframer", name, bytes([options]) + struct.pack(">H", split) + bytes([pre]) + data)


hello = b"hello, world " * 4
dfr("identity_two", msg(hello) + msg(b""), options=4 << 3)
dfr("identity_split", msg(hello) * 3, options=4 << 3 | 4, split=0x0002, pre=1)
dfr("gzip", msg(gzip.compress(hello), True), options=1 | 6 << 3)
dfr("deflate", msg(zlib.compress(hello), True), options=2 | 6 << 3)
dfr("gzip_bomb", msg(gzip.compress(b"\0" * 200000), True), options=1 | 5 << 3)
dfr("too_large", msg(hello), options=2 << 3)
dfr("bad_flag", b"\x02" + struct.pack(">I", 1) + b"x", options=7 << 3)
dfr("huge_declared", b"\x00\xff\xff\xff\xff" + b"x" * 20, options=7 << 3, pre=255)
dfr("gzip_trailing_garbage", msg(gzip.compress(hello) + b"junk", True), options=1 | 6 << 3)

# --- metadata: flag byte, then name=value lines --------------------------------------------------
md = lambda name, flags, lines: put("metadata", name, bytes([flags]) + b"\n".join(lines))
md("app_fields", 1, [b"user-agent=grpc-c++/1.51.1", b"x-id=42", b"trace-bin=AAECAw", b"x-bin=AA==, AQ", b"grpc-timeout=1S"])
md("reserved_kept", 0, [b"grpc-status-details-bin=CAUSA25vcA", b"content-type=application/grpc", b":path=/a/b", b"te=trailers"])
md("bad_values", 1, [b"Upper=1", b"x=\x01ctl", b"y-bin=!!", b"=empty", b"z-bin="])

# --- status details: google.rpc.Status ---------------------------------------------------------
def pbstr(field, b):
    return bytes([field << 3 | 2]) + hint(7, 0, len(b)) + b


any_ = pbstr(1, b"type.googleapis.com/google.rpc.DebugInfo") + pbstr(2, b"\x0a\x03abc")
put("status", "hand-with_details", b"\x08\x05" + pbstr(2, b"not found") + pbstr(3, any_) + pbstr(3, any_))
put("status", "hand-unknown_field_group", b"\x08\x03\x9a\x01\x00\x0b\x0c")
put("status", "hand-big_code", b"\x08\xff\xff\xff\xff\x0f")
put("status", "hand-percent", b"a%20b%zz%")

# --- timeout and authority --------------------------------------------------------------------
for i, v in enumerate([b"1H", b"100000000S", b"0n", b"12345678u", b"1 S", b"-1S", b"99999999m"]):
    put("timeout", "v%d" % i, v)
for i, v in enumerate([b"https://[::1]:50051/path", b"http://host", b"http://a:b:80", b"http://h:0", b"http://h:65536", b"localhost:+80", b"[fe80::1%eth0]"]):
    put("authority", "v%d" % i, v)
