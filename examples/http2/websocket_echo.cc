// websocket_echo: WebSockets over HTTP/2 (RFC 8441). The server sends
// SETTINGS_ENABLE_CONNECT_PROTOCOL, accepts an extended CONNECT with `:protocol websocket`, and
// the stream becomes a byte tunnel carrying WebSocket frames (RFC 6455 §5), which it echoes.
//
//   bazel run //examples/http2:websocket_echo -- --port=8080
//
// The frame codec is the minimum an echo needs: text, binary and continuation frames are echoed
// as they come (same opcode and FIN, unmasked), ping gets a pong with its payload, close is
// answered with the same status code and ends the stream. Refused with a close frame and the end
// of the stream: an unmasked client frame, reserved bits, an unknown opcode (1002), a control
// frame longer than 125 bytes or fragmented (1002), a payload over --max_frame (1009). Text is
// not checked for valid UTF-8 (an echo gives back what it got).
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "transport/server.h"
#include "transport/uv_loop.h"

ABSL_FLAG(int, port, 8080, "TCP port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(uint64_t, max_frame, 1 << 20, "largest frame payload accepted (bytes)");

namespace {

using h2rpc::transport::Headers;
using h2rpc::transport::Http2Server;
using h2rpc::transport::ServerHttp2Stream;

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// A server frame (never masked, RFC 6455 §5.1).
std::string frame(bool fin, uint8_t opcode, std::string_view payload) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out.push_back(126);
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(127);
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  }
  out.append(payload);
  return out;
}

std::string closePayload(uint16_t code) {
  return std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
}

// One WebSocket connection on one HTTP/2 stream.
class EchoConnection {
 public:
  EchoConnection(std::shared_ptr<ServerHttp2Stream> stream, uint64_t max_frame)
      : stream_(std::move(stream)), max_frame_(max_frame) {}

  void onBytes(std::string_view bytes) {
    if (closed_) return;  // after our close frame, the rest is discarded (§5.5.1)
    buffer_.append(bytes);
    while (!closed_ && parseOne()) {
    }
  }

  // The client ended its half without a close frame: end ours too.
  void onEnd() {
    if (closed_) return;
    closed_ = true;
    stream_->end();
  }

 private:
  // Parses and handles one complete frame from buffer_; false when more bytes are needed.
  bool parseOne() {
    if (buffer_.size() < 2) return false;
    const auto b0 = static_cast<uint8_t>(buffer_[0]), b1 = static_cast<uint8_t>(buffer_[1]);
    const bool fin = b0 & 0x80;
    const uint8_t opcode = b0 & 0x0F;
    if (b0 & 0x70) return fail(1002);      // reserved bits without an extension
    if (!(b1 & 0x80)) return fail(1002);   // §5.1: client frames are masked
    uint64_t length = b1 & 0x7F;
    size_t pos = 2;
    if (length == 126 || length == 127) {
      const size_t bytes = length == 126 ? 2 : 8;
      if (buffer_.size() < pos + bytes) return false;
      length = 0;
      for (size_t i = 0; i < bytes; ++i) length = length << 8 | static_cast<uint8_t>(buffer_[pos + i]);
      pos += bytes;
      if (bytes == 8 && (length >> 63)) return fail(1002);  // §5.2: most significant bit is 0
      // §5.2: the minimal encoding must be used.
      if ((bytes == 2 && length < 126) || (bytes == 8 && length <= 0xFFFF)) return fail(1002);
    }
    const bool control = opcode & 0x8;
    if (control && (length > 125 || !fin)) return fail(1002);
    if (!control && opcode != kContinuation && opcode != kText && opcode != kBinary) {
      return fail(1002);
    }
    if (control && opcode != kClose && opcode != kPing && opcode != kPong) return fail(1002);
    if (length > max_frame_) return fail(1009);
    if (buffer_.size() < pos + 4 + length) return false;
    const char* mask = buffer_.data() + pos;
    pos += 4;
    std::string payload = buffer_.substr(pos, length);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] ^= mask[i % 4];
    buffer_.erase(0, pos + length);

    switch (opcode) {
      case kPing:
        stream_->write(frame(true, kPong, payload));
        break;
      case kPong:
        break;
      case kClose: {
        if (payload.size() == 1) return fail(1002);
        // Echo the status code (none if none was given) and end our half.
        closed_ = true;
        stream_->end(frame(true, kClose, payload.substr(0, std::min<size_t>(2, payload.size()))));
        break;
      }
      default:
        stream_->write(frame(fin, opcode, payload));
    }
    return true;
  }

  bool fail(uint16_t code) {
    closed_ = true;
    buffer_.clear();
    stream_->end(frame(true, kClose, closePayload(code)));
    return false;
  }

  std::shared_ptr<ServerHttp2Stream> stream_;
  uint64_t max_frame_;
  std::string buffer_;
  bool closed_ = false;
};

void handle(std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers) {
  if (headers.get(":method") != "CONNECT" || headers.get(":protocol") != "websocket") {
    (void)stream->respond({{":status", "400"}, {"content-type", "text/plain"}});
    stream->end("this server speaks WebSocket over HTTP/2 (RFC 8441) only\n");
    return;
  }
  if (headers.get("sec-websocket-version") != "13") {  // RFC 6455 §4.4
    (void)stream->respond({{":status", "400"}, {"sec-websocket-version", "13"}});
    stream->end();
    return;
  }
  (void)stream->respond({{":status", "200"}});
  auto conn = std::make_shared<EchoConnection>(stream, absl::GetFlag(FLAGS_max_frame));
  stream->onData([conn](std::string_view bytes) { conn->onBytes(bytes); });
  stream->onEnd([conn] { conn->onEnd(); });
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  h2rpc::transport::UvLoop loop;
  h2rpc::transport::ServerOptions options;
  options.settings.enableConnectProtocol = true;  // RFC 8441 §3
  auto server = Http2Server::createServer(&loop, options);
  if (!server.ok()) {
    std::fprintf(stderr, "websocket_echo: %s\n", server.status().ToString().c_str());
    return 1;
  }
  (*server)->onStream([](std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers,
                         uint8_t) { handle(std::move(stream), headers); });
  const std::string host = absl::GetFlag(FLAGS_host);
  if (absl::Status st = (*server)->listen(static_cast<uint16_t>(absl::GetFlag(FLAGS_port)), host);
      !st.ok()) {
    std::fprintf(stderr, "websocket_echo: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("websocket_echo: listening on http://%s:%u\n", host.c_str(), (*server)->port());
  std::fflush(stdout);
  loop.run();
  return 0;
}
