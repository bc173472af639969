#include "tests/testing/raw_h2.h"

#include <unistd.h>

namespace h2rpc::raw_h2 {
namespace {

using namespace std::string_view_literals;

// RFC 9113 §3.4: the magic, then an empty SETTINGS frame (length 0, type 4, no flags, stream 0).
constexpr std::string_view kPreface =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    "\x00\x00\x00\x04\x00\x00\x00\x00\x00"sv;
constexpr std::string_view kSettingsAck = "\x00\x00\x00\x04\x01\x00\x00\x00\x00"sv;
constexpr std::string_view kPingFrame = "\x00\x00\x08\x06\x00\x00\x00\x00\x00pppppppp"sv;

}  // namespace

bool WriteAll(int fd, std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, char* buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = read(fd, buf + off, len - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool ReadUntil(int fd, uint8_t type, bool ack) {
  char payload[1024];
  for (;;) {
    char h[9];
    if (!ReadAll(fd, h, 9)) return false;
    const uint32_t len = (static_cast<uint32_t>(static_cast<uint8_t>(h[0])) << 16) |
                         (static_cast<uint32_t>(static_cast<uint8_t>(h[1])) << 8) |
                         static_cast<uint8_t>(h[2]);
    const uint8_t t = static_cast<uint8_t>(h[3]), flags = static_cast<uint8_t>(h[4]);
    for (uint32_t left = len; left > 0;) {  // the payload is not looked at
      const size_t chunk = left < sizeof(payload) ? left : sizeof(payload);
      if (!ReadAll(fd, payload, chunk)) return false;
      left -= static_cast<uint32_t>(chunk);
    }
    if (t == kGoaway) return false;
    if (t == kSettings && !(flags & kAck) && !WriteAll(fd, kSettingsAck)) return false;
    if (t == type && ((flags & kAck) != 0) == ack) return true;
  }
}

bool Handshake(int fd) {
  return WriteAll(fd, kPreface) && ReadUntil(fd, kSettings, false) && WriteAll(fd, kPingFrame) &&
         ReadUntil(fd, kPing, true);
}

}  // namespace h2rpc::raw_h2
