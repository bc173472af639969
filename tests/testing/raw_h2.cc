#include "tests/testing/raw_h2.h"

#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

namespace h2rpc::raw_h2 {

std::string Frame(uint8_t type, uint8_t flags, std::string_view payload, uint32_t stream) {
  std::string f;
  f.reserve(9 + payload.size());
  const uint32_t n = static_cast<uint32_t>(payload.size());
  f.push_back(static_cast<char>(n >> 16));
  f.push_back(static_cast<char>(n >> 8));
  f.push_back(static_cast<char>(n));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) f.push_back(static_cast<char>(stream >> shift));
  return f.append(payload);
}

std::string Hello(uint32_t max_frame_size) {
  std::string settings;
  if (max_frame_size != 0) {
    const char entry[6] = {0, 0x5, static_cast<char>(max_frame_size >> 24),
                           static_cast<char>(max_frame_size >> 16),
                           static_cast<char>(max_frame_size >> 8),
                           static_cast<char>(max_frame_size)};
    settings.assign(entry, sizeof(entry));
  }
  return std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24) + Frame(kSettings, 0, settings);
}

std::string CallHeaders(uint32_t stream, std::string_view path) {
  std::string block;
  for (const auto& [name, value] : {std::pair<std::string_view, std::string_view>{":method", "POST"},
                                    {":scheme", "http"},
                                    {":path", path},
                                    {":authority", "localhost"},
                                    {"content-type", "application/grpc"},
                                    {"te", "trailers"}}) {
    block.push_back('\0');
    block.push_back(static_cast<char>(name.size()));
    block += name;
    block.push_back(static_cast<char>(value.size()));
    block += value;
  }
  return Frame(kHeaders, kEndHeaders, block, stream);
}

std::string EmptyMessage(uint32_t stream, bool end_stream) {
  return Frame(kData, end_stream ? kEndStream : 0, std::string(5, '\0'), stream);
}

std::string SizedRequest(uint32_t stream, uint32_t response_size) {
  std::string message(1, '\x10');
  for (uint32_t v = response_size;; v >>= 7) {
    message.push_back(static_cast<char>(v < 0x80 ? v : (v & 0x7f) | 0x80));
    if (v < 0x80) break;
  }
  std::string prefix(4, '\0');
  prefix.push_back(static_cast<char>(message.size()));
  return Frame(kData, kEndStream, prefix + message, stream);
}

std::string Ping() { return Frame(kPing, 0, std::string(8, 'p')); }

int Connect(const sockaddr_in& addr) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool WriteAll(const Conn& c, std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n =
        c.ssl ? SSL_write(c.ssl, bytes.data() + off, static_cast<int>(bytes.size() - off))
              : write(c.fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(const Conn& c, char* buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    const ssize_t n = c.ssl ? SSL_read(c.ssl, buf + off, static_cast<int>(len - off))
                            : read(c.fd, buf + off, len - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool ReadUntil(const Conn& c, uint8_t type, uint8_t flag, bool set, uint32_t stream) {
  // The SETTINGS ACK, a constant: nothing here allocates.
  static constexpr char kSettingsAck[9] = {0, 0, 0, kSettings, kAck, 0, 0, 0, 0};
  for (;;) {
    char h[9];
    if (!ReadAll(c, h, 9)) return false;
    const uint32_t len = (static_cast<uint32_t>(static_cast<uint8_t>(h[0])) << 16) |
                         (static_cast<uint32_t>(static_cast<uint8_t>(h[1])) << 8) |
                         static_cast<uint8_t>(h[2]);
    const uint8_t t = static_cast<uint8_t>(h[3]), flags = static_cast<uint8_t>(h[4]);
    char payload[1024];  // read and dropped, a piece at a time
    for (uint32_t left = len; left > 0;) {
      const size_t piece = left < sizeof(payload) ? left : sizeof(payload);
      if (!ReadAll(c, payload, piece)) return false;
      left -= static_cast<uint32_t>(piece);
    }
    const uint32_t id = (static_cast<uint32_t>(static_cast<uint8_t>(h[5]) & 0x7f) << 24) |
                        (static_cast<uint32_t>(static_cast<uint8_t>(h[6])) << 16) |
                        (static_cast<uint32_t>(static_cast<uint8_t>(h[7])) << 8) |
                        static_cast<uint8_t>(h[8]);
    if (t == kGoaway || t == kRstStream) return false;
    if (t == kSettings && !(flags & kAck) &&
        !WriteAll(c, std::string_view(kSettingsAck, sizeof(kSettingsAck)))) {
      return false;
    }
    if (t == type && id == stream && (flag == 0 || ((flags & flag) != 0) == set)) return true;
  }
}

}  // namespace h2rpc::raw_h2
