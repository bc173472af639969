// Header blocks that decode to far more than they weigh (HPACK bombs) against a server session,
// sans I/O: raw HTTP/2 bytes on a MemorySocket, a ManualLoop. What the tests pin down is the
// mechanism that bounds the work (bench/FLOODS.md measures the effect): a block decoding past
// twice maxHeaderListSize ends the connection right there, before nghttp2 decodes the rest of it
// (a PING sent behind it is never answered), while a block merely over the limit costs only its
// stream.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/constants.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  f += static_cast<char>(payload.size() >> 16);
  f += static_cast<char>(payload.size() >> 8);
  f += static_cast<char>(payload.size());
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  for (int i = 3; i >= 0; --i) f += static_cast<char>(stream >> (8 * i));
  return f + std::string(payload);
}

std::string hpackInt(uint64_t v, int prefix, uint8_t first) {
  const uint64_t limit = (1u << prefix) - 1;
  std::string out;
  if (v < limit) return out + static_cast<char>(first | v);
  out += static_cast<char>(first | limit);
  v -= limit;
  for (; v >= 128; v >>= 7) out += static_cast<char>((v & 127) | 128);
  return out + static_cast<char>(v);
}

// A literal field with a new name; `indexed` adds it to the decoder's dynamic table.
std::string literal(std::string_view name, std::string_view value, bool indexed = false) {
  return (indexed ? hpackInt(0, 6, 0x40) : hpackInt(0, 4, 0x00)) + hpackInt(name.size(), 7, 0) +
         std::string(name) + hpackInt(value.size(), 7, 0) + std::string(value);
}

// GET / (static table: :method GET, :path /, :scheme http) and :authority.
std::string getBlock() { return "\x82\x84\x86" + literal(":authority", "localhost"); }

// HEADERS (END_STREAM) and CONTINUATIONs of 16 KiB carrying `block`. `end_headers` false leaves
// the block open after its last frame.
std::string headerFrames(uint32_t stream, const std::string& block, bool end_headers = true) {
  std::string out;
  for (size_t off = 0; off < block.size() || off == 0; off += 16384) {
    const std::string_view chunk = std::string_view(block).substr(off, 16384);
    const bool last = off + 16384 >= block.size();
    const uint8_t eh = last && end_headers ? 0x4 : 0;
    out += off == 0 ? frame(1, 0x1 | eh, stream, chunk) : frame(9, eh, stream, chunk);
  }
  return out;
}

struct Frame {
  uint8_t type, flags;
  uint32_t stream;
  std::string payload;
};

struct Peer : Socket::Handler {
  Peer() {
    auto [a, b] = MemorySocket::pair(&loop);
    socket = std::move(b);
    socket->setHandler(this);
    SessionOptions options;
    options.settings.maxHeaderListSize = 65535;  // advertised: Node's default value
    server = *ServerHttp2Session::create(&loop, std::move(a), options);
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
      ++streams;
      (void)s->respond({}, {.endStream = true});
    });
    loop.runUntilIdle();  // the server's SETTINGS
  }
  void onSocketConnect() override {}
  void onSocketData(std::string_view d) override { received += d; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override {}

  void send(const std::string& bytes) {
    socket->write(bytes);
    loop.runUntilIdle();
  }
  std::vector<Frame> frames() const {
    std::vector<Frame> out;
    for (size_t i = 0; i + 9 <= received.size();) {
      const size_t len = (uint8_t(received[i]) << 16) | (uint8_t(received[i + 1]) << 8) |
                         uint8_t(received[i + 2]);
      if (i + 9 + len > received.size()) break;
      uint32_t id = 0;
      for (int k = 5; k < 9; ++k) id = (id << 8) | uint8_t(received[i + k]);
      out.push_back({uint8_t(received[i + 3]), uint8_t(received[i + 4]), id & 0x7fffffff,
                     received.substr(i + 9, len)});
      i += 9 + len;
    }
    return out;
  }
  static uint32_t code(const std::string& p, size_t at) {
    return (uint8_t(p[at]) << 24) | (uint8_t(p[at + 1]) << 16) | (uint8_t(p[at + 2]) << 8) |
           uint8_t(p[at + 3]);
  }
  int goawayCode() const {
    for (const Frame& f : frames()) {
      if (f.type == 7) return static_cast<int>(code(f.payload, 4));
    }
    return -1;
  }
  int rstCode(uint32_t stream) const {
    for (const Frame& f : frames()) {
      if (f.type == 3 && f.stream == stream) return static_cast<int>(code(f.payload, 0));
    }
    return -1;
  }
  bool pingAcked() const {
    for (const Frame& f : frames()) {
      if (f.type == 6 && (f.flags & 1)) return true;
    }
    return false;
  }

  ManualLoop loop;
  std::unique_ptr<MemorySocket> socket;
  std::shared_ptr<ServerHttp2Session> server;
  std::string received;
  int streams = 0;
};

const std::string kPing = frame(6, 0, 0, "12345678");

// Stream 1 puts a 4000-byte entry (1 + 3967 + 32) into the server's HPACK table, and is served.
void insertBigEntry(Peer& peer, bool ack_settings) {
  peer.send(std::string(kPreface) + frame(4, 0, 0, "") +
            (ack_settings ? frame(4, 0x1, 0, "") : std::string()));
  peer.send(headerFrames(1, getBlock() + literal("x", std::string(3967, 'a'), true)));
  ASSERT_EQ(peer.streams, 1);
  ASSERT_FALSE(peer.server->destroyed());
}

TEST(SessionHeaderBombTest, BombEndsTheConnectionWithinItsFirstFrame) {
  Peer peer;
  insertBigEntry(peer, /*ack_settings=*/true);
  // 65,536 one-byte references to the 4000-byte entry: 262 MB decoded. Only the first 16 KiB
  // frame is sent (the block stays open), with a PING behind it: the connection must be over
  // before nghttp2 gets to the PING, i.e. at most ~2 × 64 KiB decoded, not the frame's 65 MB.
  const std::string bomb = getBlock() + std::string(65536, '\xbe');
  peer.send(headerFrames(3, bomb.substr(0, 16384), /*end_headers=*/false) + kPing);
  EXPECT_TRUE(peer.server->destroyed());
  EXPECT_EQ(peer.goawayCode(), static_cast<int>(constants::NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_FALSE(peer.pingAcked());
  EXPECT_EQ(peer.streams, 1);
}

TEST(SessionHeaderBombTest, BombBeforeOurSettingsAreAcknowledgedIsCutToo) {
  // nghttp2 reports no header list limit until the peer ACKs our SETTINGS: the advertised one
  // counts meanwhile.
  Peer peer;
  insertBigEntry(peer, /*ack_settings=*/false);
  peer.send(headerFrames(3, getBlock() + std::string(65536, '\xbe')) + kPing);
  EXPECT_TRUE(peer.server->destroyed());
  EXPECT_EQ(peer.goawayCode(), static_cast<int>(constants::NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_FALSE(peer.pingAcked());
}

TEST(SessionHeaderBombTest, ManyTinyFieldsCountTheirOverheadToo) {
  // An empty entry referenced 16,384 times decodes to 16 KB of names and values, but RFC 9113
  // counts 32 bytes more per field (540 KB): past the cap as well, whatever maxHeaderListPairs.
  Peer peer;
  peer.send(std::string(kPreface) + frame(4, 0, 0, "") + frame(4, 0x1, 0, ""));
  peer.send(headerFrames(1, getBlock() + literal("x", "", true)));
  ASSERT_EQ(peer.streams, 1);
  peer.send(headerFrames(3, getBlock() + std::string(16384, '\xbe')) + kPing);
  EXPECT_TRUE(peer.server->destroyed());
  EXPECT_EQ(peer.goawayCode(), static_cast<int>(constants::NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_FALSE(peer.pingAcked());
}

TEST(SessionHeaderBombTest, BlockOverTheLimitButUnderTheCapCostsOnlyItsStream) {
  Peer peer;
  insertBigEntry(peer, /*ack_settings=*/true);
  // 20 references: 80 KB decoded, over maxHeaderListSize (65535) but under twice it. The stream
  // is refused with ENHANCE_YOUR_CALM (once: nghttp2 adds no INTERNAL_ERROR of its own), the
  // connection goes on, its HPACK table intact: the next request, referencing the entry, works.
  peer.send(headerFrames(3, getBlock() + std::string(20, '\xbe')) + kPing);
  EXPECT_FALSE(peer.server->destroyed());
  EXPECT_EQ(peer.rstCode(3), static_cast<int>(constants::NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_TRUE(peer.pingAcked());
  EXPECT_EQ(peer.streams, 1);
  peer.send(headerFrames(5, getBlock() + "\xbe"));
  EXPECT_EQ(peer.streams, 2);
  EXPECT_EQ(peer.goawayCode(), -1);
}

}  // namespace
}  // namespace h2rpc::transport
