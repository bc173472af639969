// idle_conns: opens N idle HTTP/2 (h2c, prior knowledge) connections to a server and holds them,
// for measuring the server's memory per idle connection. Each connection does a full handshake
// — client preface + SETTINGS, the server's SETTINGS acknowledged, then a PING whose ACK shows
// the server has processed everything — and then stays silent. Prints "ready N" when all are up,
// then waits until killed (SIGTERM/SIGINT).
//
//   idle_conns 127.0.0.1 PORT 1000
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr uint8_t kSettings = 0x4, kPing = 0x6, kAck = 0x1;

std::string Frame(uint8_t type, uint8_t flags, const std::string& payload) {
  std::string f;
  const uint32_t n = static_cast<uint32_t>(payload.size());
  f.push_back(static_cast<char>(n >> 16));
  f.push_back(static_cast<char>(n >> 8));
  f.push_back(static_cast<char>(n));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  f.append(4, '\0');  // stream 0
  return f + payload;
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
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

// Reads frames until one of `type` with (or without) ACK; answers the server's SETTINGS.
bool ReadUntil(int fd, uint8_t type, bool ack) {
  for (;;) {
    char h[9];
    if (!ReadAll(fd, h, 9)) return false;
    const uint32_t len = (static_cast<uint8_t>(h[0]) << 16) | (static_cast<uint8_t>(h[1]) << 8) |
                         static_cast<uint8_t>(h[2]);
    const uint8_t t = static_cast<uint8_t>(h[3]), flags = static_cast<uint8_t>(h[4]);
    std::vector<char> payload(len);
    if (len > 0 && !ReadAll(fd, payload.data(), len)) return false;
    if (t == 0x7) return false;  // GOAWAY
    if (t == kSettings && !(flags & kAck)) {
      if (!WriteAll(fd, Frame(kSettings, kAck, ""))) return false;
    }
    if (t == type && ((flags & kAck) != 0) == ack) return true;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: idle_conns HOST PORT N\n");
    return 2;
  }
  const int n = std::atoi(argv[3]);
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < static_cast<rlim_t>(n) + 64) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(n) + 64);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    std::fprintf(stderr, "idle_conns: bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  const std::string hello = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24) + Frame(kSettings, 0, "");
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      std::perror("idle_conns: connect");
      return 1;
    }
    if (!WriteAll(fd, hello) || !ReadUntil(fd, kSettings, false) ||
        !WriteAll(fd, Frame(kPing, 0, std::string(8, 'p'))) || !ReadUntil(fd, kPing, true)) {
      std::fprintf(stderr, "idle_conns: handshake %d failed\n", i);
      return 1;
    }
    fds.push_back(fd);
  }
  std::printf("ready %d\n", n);
  std::fflush(stdout);
  for (;;) pause();
}
