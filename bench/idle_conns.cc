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

#include "tests/testing/raw_h2.h"

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
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      std::perror("idle_conns: connect");
      return 1;
    }
    if (!h2rpc::raw_h2::Handshake(fd)) {
      std::fprintf(stderr, "idle_conns: handshake %d failed\n", i);
      return 1;
    }
    fds.push_back(fd);
  }
  std::printf("ready %d\n", n);
  std::fflush(stdout);
  for (;;) pause();
}
