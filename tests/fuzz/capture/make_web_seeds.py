#!/usr/bin/python3
"""Writes the hand-made seeds (hand-*) of the stop-24 protocol targets: grpc_web, content_type,
connect, web_server, and of stop 27's client_protocol (responses, shaped like the servers' own).
The requests copy the fields real clients send (buf curl and connect-go:
connect-protocol-version, connect-timeout-ms, accept-encoding; grpc-web's JavaScript client:
x-grpc-web, x-user-agent, a grpc-web-text body; curl with JSON; browsers' CORS preflights).
Run by hand from the repository root; deterministic."""
import base64
import gzip
import os
import struct

C = "tests/fuzz/corpus"


def put(target, name, data):
    os.makedirs(os.path.join(C, target), exist_ok=True)
    with open(os.path.join(C, target, "hand-" + name), "wb") as f:
        f.write(data)


def msg(payload, flags=0):
    return bytes([flags]) + struct.pack(">I", len(payload)) + payload


def echo(text=b"", count=0, payload=b"", status=0):
    out = b""
    if text:
        out += b"\x0a" + bytes([len(text)]) + text
    if count:
        out += b"\x10" + bytes([count])
    if payload:
        out += b"\x1a" + bytes([len(payload)]) + payload
    if status:
        out += b"\x28" + bytes([status])
    return out


# --- grpc_web: mode (0 decoder, 1 encode, 2 trailers), split (2), bytes ----------------------
gw = lambda name, mode, split, data: put("grpc_web", name, bytes([mode]) + struct.pack(">H", split) + data)
one = base64.b64encode(msg(echo(b"hello")))
gw("text_body", 0, 0, one)
gw("text_body_split", 0, 0x0003, one)
gw("text_two_writes_padding_inside", 0, 0x0002, base64.b64encode(msg(echo(b"a"))) + base64.b64encode(msg(echo(b"bc"))))
gw("text_bad_char", 0, 0, b"AAAA*AAA")
gw("text_misplaced_padding", 0, 0, b"A===AAAA")
gw("text_partial_quantum", 0, 0, b"AAAAAA")
gw("text_pad_then_data", 0, 0, b"AA==AAAA")
gw("encode_message", 1, 0x0004, msg(echo(b"hello", payload=b"\0\1\2")))
gw("encode_empty", 1, 0, b"")
gw("trailers_ok", 2, 0, b"grpc-status 0\ngrpc-message \n")
gw("trailers_error", 2, 0, b"grpc-status 5\ngrpc-message not%20found\ngrpc-status-details-bin CAUSCW5vdCBmb3VuZA\nX-Tail v1\nx-tail v2\n")

# --- content_type: the value ------------------------------------------------------------------
for i, v in enumerate([b"application/grpc", b"application/grpc+proto", b"application/grpc-web+proto",
                       b"application/grpc-web-text", b"application/grpc-web-text+proto; charset=utf-8",
                       b"APPLICATION/GRPC-WEB+JSON", b"application/proto", b"application/json",
                       b"application/json; charset=utf-8", b"application/connect+proto",
                       b"application/connect+json", b"application/connect+thrift", b"application/grpc+",
                       b"application/grpcx", b" application/grpc ;", b"text/plain", b"",
                       b"application/connect", b"application/json+proto"]):
    put("content_type", "v%d" % i, v)

# --- connect: mode (0 query, 1 timeout, 2 error JSON, 3 JSON request, 4 JSON response) -------
cn = lambda name, mode, split, data: put("connect", name, bytes([mode]) + struct.pack(">H", split) + data)
cn("get_json", 0, 0, b"connect=v1&encoding=json&message=%7B%22text%22%3A%22hi%22%7D")
cn("get_proto_base64", 0, 0, b"encoding=proto&base64=1&message=" + base64.urlsafe_b64encode(echo(b"hi")).rstrip(b"=") + b"&connect=v1")
cn("get_base64_padded_gzip", 0, 0, b"encoding=proto&base64=1&compression=gzip&message=" + base64.urlsafe_b64encode(gzip.compress(echo(b"zz"), mtime=0)))
cn("get_identity_plus", 0, 0, b"encoding=json&compression=identity&message={\"text\":\"a+b\"}&x=%zz")
cn("get_bad_version", 0, 0, b"connect=v2&encoding=json")
cn("get_repeated", 0, 0, b"encoding=json&encoding=proto&&message=&message=x&base64=0&base64=1")
cn("get_bad_percent", 0, 0, b"encoding=json&message=%4")
for i, v in enumerate([b"1500", b"0", b"9999999999", b"12345678901", b"-1", b"1.5", b""]):
    cn("timeout_%d" % i, 1, 0, v)
cn("error_not_found", 2, 0, bytes([5]) + b"no such thing\n\nx-tail a\nx-tail b\ny-bin AAE")
cn("error_details", 2, 0, bytes([9]) + b"a \"quoted\"\\ \x01 message\n\x08\x09\x12\x03why\nx-a 1")
cn("error_utf8", 2, 0, bytes([13]) + "caf\u00e9 \U0001F600".encode() + b"\n\n")
cn("ok_metadata", 2, 0, bytes([0]) + b"\n\nx-a 1\nx-b 2\nx-a 3")
cn("json_request", 3, 0xfff0, b'{"text":"hi","count":3,"payload":"AAEC","statusCode":5}')
cn("json_request_proto_names", 3, 0x4002, b'{"text":"hi","status_code":"5","sleep_ms":1}')
cn("json_request_empty", 3, 0x0100, b"  ")
cn("json_request_unknown_field", 3, 0x1000, b'{"nope":1}')
cn("json_request_over_limit", 3, 0x0041, b'{"text":"0123456789"}')
cn("json_response", 4, 0, b"\x0a\x02hi\x10\x07\x1a\x03\x00\x01\x02")
cn("json_response_bad_utf8", 4, 0, b"\x0a\x02\xff\xfe")

# --- web_server: options, more, split (2), "name value" lines, blank line, body ---------------
ECHO = b"/h2rpc.rpc_test.EchoService/"
FIND = b"/h2rpc.rpc_test.Lookup/Find"


def ws(name, path, content_type, body, options=0, more=0, split=0, extra=(), method=b"POST", h1=False):
    h = [(b":method", method), (b":path", path)]
    if not h1:
        h += [(b":scheme", b"http"), (b":authority", b"localhost:8080")]
    else:
        h += [(b"host", b"localhost:8080")]
    if content_type is not None:
        h.append((b"content-type", content_type))
    h += list(extra)
    text = b"".join(n + b" " + v + b"\n" for n, v in h) + b"\n"
    put("web_server", name, bytes([options | (1 if h1 else 0), more]) + struct.pack(">H", split) + text + body)


WEB = [(b"x-grpc-web", b"1"), (b"x-user-agent", b"grpc-web-javascript/0.1"), (b"accept", b"application/grpc-web-text")]
CONNECT = [(b"connect-protocol-version", b"1"), (b"user-agent", b"connect-go/1.16.2 (go1.22.2)"), (b"accept-encoding", b"gzip")]
ORIGIN = [(b"origin", b"https://a.test")]
for h1 in (False, True):
    t = "h1_" if h1 else "h2_"
    ws(t + "grpc_web_unary", ECHO + b"Echo", b"application/grpc-web+proto", msg(echo(b"hi")), extra=WEB, h1=h1)
    ws(t + "grpc_web_text_stream", ECHO + b"Expand", b"application/grpc-web-text", base64.b64encode(msg(echo(b"hi", count=3))), extra=WEB, h1=h1, options=32)
    ws(t + "grpc_web_error_details", ECHO + b"Echo", b"application/grpc-web+proto", msg(echo(b"why", count=1, status=8)), extra=WEB + ORIGIN, options=64, h1=h1)
    ws(t + "grpc_web_text_bad_base64", ECHO + b"Collect", b"application/grpc-web-text+proto", b"AAAA!!!!", extra=WEB, h1=h1)
    ws(t + "grpc_web_chat_open", ECHO + b"Chat", b"application/grpc-web+proto", msg(echo(b"1")) + msg(echo(b"2")), options=2, h1=h1)
    ws(t + "grpc_over", ECHO + b"Echo", b"application/grpc", msg(echo(b"hi")), extra=[(b"te", b"trailers")], h1=h1)
    ws(t + "connect_unary_proto", ECHO + b"Echo", b"application/proto", echo(b"hi"), extra=CONNECT + [(b"connect-timeout-ms", b"1500"), (b"x-in", b"a")], h1=h1)
    ws(t + "connect_unary_json", ECHO + b"Echo", b"application/json", b'{"text":"hi","payload":"AAE="}', extra=[(b"x-in", b"v")], h1=h1)
    ws(t + "connect_unary_json_error", ECHO + b"Echo", b"application/json", b'{"text":"gone","statusCode":4,"count":1}', extra=CONNECT + ORIGIN, options=64, h1=h1)
    ws(t + "connect_unary_gzip", ECHO + b"Echo", b"application/proto", gzip.compress(echo(b"gzip me"), mtime=0), extra=CONNECT + [(b"content-encoding", b"gzip")], h1=h1)
    ws(t + "connect_stream_json", ECHO + b"Expand", b"application/connect+json", msg(b'{"text":"s","count":2,"statusCode":2}'), extra=CONNECT + [(b"connect-accept-encoding", b"gzip")], h1=h1)
    ws(t + "connect_stream_gzip", ECHO + b"Collect", b"application/connect+proto", msg(gzip.compress(echo(b"a"), mtime=0), 1) + msg(echo(b"b")), extra=CONNECT + [(b"connect-content-encoding", b"gzip")], h1=h1, options=32)
    ws(t + "connect_bad_timeout", ECHO + b"Echo", b"application/proto", b"", extra=CONNECT + [(b"connect-timeout-ms", b"12345678901")], h1=h1)
    ws(t + "connect_deadline", ECHO + b"Chat", b"application/connect+proto", msg(echo(b"x")), extra=[(b"connect-timeout-ms", b"10")], options=2 | 8, h1=h1)
    ws(t + "connect_bad_version", ECHO + b"Echo", b"application/proto", b"", extra=[(b"connect-protocol-version", b"2")], h1=h1)
    ws(t + "connect_get_json", FIND + b"?connect=v1&encoding=json&message=%7B%22text%22%3A%22hi%22%7D", None, b"", method=b"GET", extra=ORIGIN, options=64, h1=h1)
    ws(t + "connect_get_proto_b64", FIND + b"?encoding=proto&base64=1&message=" + base64.urlsafe_b64encode(echo(b"q")).rstrip(b"="), None, b"", method=b"GET", h1=h1)
    ws(t + "connect_get_not_allowed", ECHO + b"Echo?encoding=json&message={}", None, b"", method=b"GET", h1=h1)
    ws(t + "connect_get_bad_query", FIND + b"?encoding=xml", None, b"", method=b"GET", h1=h1)
    ws(t + "connect_put", ECHO + b"Echo", b"application/json", b"{}", method=b"PUT", h1=h1)
    ws(t + "preflight", ECHO + b"Echo", None, b"", method=b"OPTIONS", extra=ORIGIN + [(b"access-control-request-method", b"POST"), (b"access-control-request-headers", b"content-type,x-grpc-web")], options=64, h1=h1)
    ws(t + "unknown_method_connect", ECHO + b"Nope", b"application/json", b"{}", h1=h1)
    ws(t + "connect_off", ECHO + b"Echo", b"application/proto", echo(b"x"), more=2, h1=h1)
    ws(t + "grpc_web_off", ECHO + b"Echo", b"application/grpc-web", msg(echo(b"x")), more=4, h1=h1)
    ws(t + "connect_too_large", ECHO + b"Echo", b"application/proto", echo(b"x" * 120), more=1, h1=h1)
    ws(t + "twice", ECHO + b"Echo", b"application/grpc-web+proto", msg(echo(b"2x")), options=16, h1=h1)
ws("h2_grpc_web_reset", ECHO + b"Chat", b"application/grpc-web+proto", msg(echo(b"1")), options=2 | 4)
put("web_server", "raw-h1_pipelined", bytes([1 | 128, 0, 0, 0]) +
    b"POST " + ECHO + b"Echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}" +
    b"GET " + FIND + b"?encoding=json&message=%7B%7D HTTP/1.1\r\nhost: x\r\n\r\n")
cn("error_not_utf8", 2, 0, bytes([3]) + b"bad \xff\xfe bytes \xc3\n\nx-a caf\xe9")


# --- client_protocol: call, split (2), limit, "name: value" lines, NUL, body -------------------
# call: bits 0-1 grpc-web, grpc-web-text, connect; bit 2 JSON; bits 3-4 Echo, Expand, Chat, an
# unknown path; bit 5 END_STREAM on the headers; bits 6-7 :status 200, 404, 503, the first line.
def cp(name, call, split, limit, headers, body):
    put("client_protocol", name, bytes([call]) + struct.pack(">H", split) + bytes([limit]) +
        b"\n".join(headers) + b"\0" + body)


reply = echo(b"hi")
web = msg(reply) + msg(b"grpc-status:0\r\ngrpc-message:ok\r\nx-meta: v\r\n", 0x80)
cp("grpc_web", 0, 0, 8, [b"content-type: application/grpc-web+proto", b"x-a: 1"], web)
cp("grpc_web_split", 0, 0x0102, 8, [b"content-type: application/grpc-web+proto"], web + web[:3])
cp("grpc_web_text", 1, 0x0003, 8, [b"content-type: application/grpc-web-text+proto"],
   base64.b64encode(web[:7]) + base64.b64encode(web[7:]))
cp("grpc_web_trailers_only", 0x20, 0, 8, [b"content-type: application/grpc-web+proto",
                                          b"grpc-status: 5", b"grpc-message: gone"], b"")
cp("grpc_web_too_large", 0, 0, 0, [b"content-type: application/grpc-web+proto"],
   msg(b"x" * 40) + msg(b"grpc-status:0\r\n", 0x80))
cp("connect_unary_proto", 2, 0, 8, [b"content-type: application/proto", b"trailer-x-t: 1",
                                    b"x-h: 2"], reply)
cp("connect_unary_json", 2 | 4, 0x0001, 8, [b"content-type: application/json"], b'{"text":"hi"}')
cp("connect_unary_gzip", 2, 0, 8, [b"content-type: application/proto", b"content-encoding: gzip"],
   gzip.compress(reply, mtime=0))
cp("connect_unary_error", 2 | (1 << 6), 0, 8, [b"content-type: application/json",
                                               b"trailer-x-t: 1"],
   b'{"code":"not_found","message":"x","details":[{"type":"google.rpc.ErrorInfo","value":"CgFh"}]}')
cp("connect_unary_error_no_json", 2 | (2 << 6), 0, 8, [b"content-type: text/html"],
   b"<html>busy</html>")
cp("connect_status_from_input", 2 | (3 << 6), 0, 8, [b"429", b"content-type: application/json"],
   b'{"code":"resource_exhausted"}')
cp("connect_stream_proto", 2 | (1 << 3), 0x0105, 8,
   [b"content-type: application/connect+proto", b"x-h: 1"],
   msg(reply) + msg(reply) + msg(b'{"metadata":{"k":["v","w"]}}', 2))
cp("connect_stream_json_error", 2 | 4 | (2 << 3), 0x0002, 8,
   [b"content-type: application/connect+json"],
   msg(b'{"text":"a"}') + msg(b'{"error":{"code":"internal","message":"m"},"metadata":{"X-K":["v"]}}', 2))
cp("connect_stream_gzip", 2 | (1 << 3), 0, 8,
   [b"content-type: application/connect+proto", b"connect-content-encoding: gzip"],
   msg(gzip.compress(reply, mtime=0), 1) + msg(gzip.compress(b"{}", mtime=0), 3))
cp("connect_stream_generic", 2 | (3 << 3), 0, 8, [b"content-type: application/connect+proto"],
   msg(b"raw") + msg(b"{}", 2))
cp("connect_stream_cut", 2 | (1 << 3), 0, 8, [b"content-type: application/connect+proto"],
   msg(reply)[:4])
cp("connect_stream_wrong_type", 2 | (1 << 3), 0, 8, [b"content-type: application/json"], b"{}")
