// tcp_pingpong: the floor under every ping-pong and 1-call-in-flight figure of bench/RESULTS.md.
//
// A 40-byte message bounced over one loopback TCP connection with nothing else: no HTTP/2, no
// gRPC, no allocation, one epoll_wait + read + write per hop. Whatever a real stack adds sits on
// top of this; on a virtual machine most of it is the kernel waking the sleeping thread on the
// other core (bench/README.md, "Latency"). --busy_poll_us keeps both sides polling instead, as
// bench_server/bench_client and the gRPC C++ programs do with the same flag.
//
//   tcp_pingpong --port=0 [--busy_poll_us=N]         serves connections one after the other,
//                                                    prints "listening PORT"
//   tcp_pingpong --target=127.0.0.1:PORT [--busy_poll_us=N] [--warmup_s] [--duration_s]
//                                                    prints one JSON line (bench/stats.h)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/stats.h"

ABSL_FLAG(int, port, -1, "serve on this port (0 picks one)");
ABSL_FLAG(std::string, target, "", "connect to host:port and measure");
ABSL_FLAG(int, busy_poll_us, 0, "after data, poll without sleeping for this long (0: off)");
ABSL_FLAG(double, duration_s, 5, "measured seconds (after the warm-up)");
ABSL_FLAG(double, warmup_s, 1, "seconds of round trips before measuring");

namespace {

constexpr size_t kMessage = 40;

// Waits until `fd` is readable: epoll_wait with a zero timeout while within the busy-poll window
// since the last data, blocking otherwise. Returns false on error.
class Waiter {
 public:
  Waiter(int fd, int64_t busy_poll_ns) : busy_poll_ns_(busy_poll_ns), ep_(epoll_create1(0)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
  ~Waiter() { close(ep_); }
  bool Wait() {
    for (;;) {
      const bool spin = busy_poll_ns_ > 0 && h2rpc::bench::NowNs() < spin_until_;
      epoll_event ev;
      const int n = epoll_wait(ep_, &ev, 1, spin ? 0 : -1);
      if (n > 0) {
        if (busy_poll_ns_ > 0) spin_until_ = h2rpc::bench::NowNs() + busy_poll_ns_;
        return true;
      }
      if (n < 0 && errno != EINTR) return false;
    }
  }

 private:
  const int64_t busy_poll_ns_;
  const int ep_;
  int64_t spin_until_ = 0;
};

bool ReadFull(int fd, Waiter& waiter, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    if (!waiter.Wait()) return false;
    const ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

int Serve(int port, int64_t busy_poll_ns) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof(addr);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listener, 8) != 0) {
    std::perror("tcp_pingpong: listen");
    return 1;
  }
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening %u\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  for (;;) {  // until killed (run.sh stops it like the other servers)
    const int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Waiter waiter(fd, busy_poll_ns);
    char buf[kMessage];
    while (ReadFull(fd, waiter, buf, kMessage) && write(fd, buf, kMessage) == kMessage) {
    }
    close(fd);
  }
}

int Measure(const std::string& target, int64_t busy_poll_ns) {
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "tcp_pingpong: --target must be host:port\n");
    return 2;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(target.substr(colon + 1))));
  if (inet_pton(AF_INET, target.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "tcp_pingpong: --target host must be an IPv4 address\n");
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("tcp_pingpong: connect");
    return 1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  Waiter waiter(fd, busy_poll_ns);
  h2rpc::bench::Histogram latency;
  char buf[kMessage] = {};
  const int64_t start = h2rpc::bench::NowNs();
  const int64_t measure_from = start + static_cast<int64_t>(absl::GetFlag(FLAGS_warmup_s) * 1e9);
  const int64_t end = measure_from + static_cast<int64_t>(absl::GetFlag(FLAGS_duration_s) * 1e9);
  uint64_t ops = 0, errors = 0;
  double cpu_start = 0;
  bool measuring = false;
  for (int64_t now = start; now < end;) {
    if (!measuring && now >= measure_from) {
      measuring = true;
      cpu_start = h2rpc::bench::ProcessCpuSeconds();
    }
    if (write(fd, buf, kMessage) != kMessage || !ReadFull(fd, waiter, buf, kMessage)) {
      ++errors;
      break;
    }
    const int64_t done = h2rpc::bench::NowNs();
    if (measuring) {
      latency.Record(done - now);
      ++ops;
    }
    now = done;
  }
  h2rpc::bench::Report report;
  report.impl = "tcp";
  report.mode = "pingpong";
  report.channels = report.outstanding = 1;
  report.req_size = report.resp_size = static_cast<int>(kMessage);
  report.duration_s = absl::GetFlag(FLAGS_duration_s);
  report.ops = ops;
  report.bytes = ops * 2 * kMessage;
  report.errors = errors;
  report.cpu_s = h2rpc::bench::ProcessCpuSeconds() - cpu_start;
  report.latency = &latency;
  std::printf("%s\n", report.Json().c_str());
  close(fd);
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  const int64_t busy_poll_ns = int64_t{std::max(0, absl::GetFlag(FLAGS_busy_poll_us))} * 1000;
  if (absl::GetFlag(FLAGS_port) >= 0) return Serve(absl::GetFlag(FLAGS_port), busy_poll_ns);
  if (!absl::GetFlag(FLAGS_target).empty()) return Measure(absl::GetFlag(FLAGS_target), busy_poll_ns);
  std::fprintf(stderr, "tcp_pingpong: give --port (serve) or --target (measure)\n");
  return 2;
}
