// UvSocket::connect() to resolved addresses: every address tried in order, Unix domain sockets
// (paths and abstract names), the lookup option, and the errors each failure reports.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/errors.h"
#include "transport/socket_address.h"
#include "transport/uv_loop.h"
#include "transport/uv_socket.h"

namespace h2rpc::transport {
namespace {

struct Recorder : Socket::Handler {
  void onSocketConnect() override { connected = true; }
  void onSocketData(std::string_view data) override { received += data; }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status st) override {
    closed = true;
    status = st;
  }
  bool connected = false, closed = false;
  absl::Status status;
  std::string received;
};

// Runs the loop until the socket connected or closed (bounded).
void Settle(UvLoop& loop, Recorder& r) {
  for (int i = 0; i < 10000 && !r.connected && !r.closed; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
}

// A listening fd bound to `address` (IPv4 loopback, or a Unix path/abstract name).
int ListenOn(const SocketAddress& address) {
  int fd = socket(address.family(), SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(bind(fd, address.sockaddrPtr(), address.length()), 0) << strerror(errno);
  EXPECT_EQ(listen(fd, 4), 0);
  return fd;
}

uint16_t PortOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// A loopback port nobody listens on (bound, then closed: connecting there is refused).
uint16_t RefusedPort() {
  int fd = ListenOn(*SocketAddress::fromIp("127.0.0.1", 0));
  const uint16_t port = PortOf(fd);
  close(fd);
  return port;
}

// Under /tmp: Bazel's TEST_TMPDIR is longer than a sockaddr_un holds (107 bytes).
std::string TempSocketPath(const char* name) {
  return std::string("/tmp/h2rpc-") + name + "." + std::to_string(getpid()) + ".sock";
}

TEST(UvConnectTest, RefusedFirstAddressFallsToTheNext) {
  UvLoop loop;
  int listener = ListenOn(*SocketAddress::fromIp("127.0.0.1", 0));
  std::vector<SocketAddress> addresses = {*SocketAddress::fromIp("127.0.0.1", RefusedPort()),
                                          *SocketAddress::fromIp("127.0.0.1", PortOf(listener))};
  Recorder r;
  auto client = UvSocket::connect(&loop, addresses);
  client->setHandler(&r);
  client->write("hello");  // written while connecting: sent once connected
  Settle(loop, r);
  ASSERT_TRUE(r.connected) << r.status;
  EXPECT_EQ(client->remotePort(), PortOf(listener));
  int peer = accept(listener, nullptr, nullptr);
  // Node's socket.localAddress / localPort: our end, which the listener sees as its peer.
  sockaddr_in seen{};
  socklen_t seen_len = sizeof(seen);
  ASSERT_EQ(getpeername(peer, reinterpret_cast<sockaddr*>(&seen), &seen_len), 0);
  EXPECT_EQ(client->localAddress(), "127.0.0.1");
  EXPECT_EQ(client->localPort(), ntohs(seen.sin_port));
  EXPECT_NE(client->localPort(), 0);
  for (int i = 0; i < 100; ++i) uv_run(loop.uv(), UV_RUN_NOWAIT);
  char buf[16];
  EXPECT_EQ(recv(peer, buf, sizeof(buf), 0), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  client.reset();
  close(peer);
  close(listener);
}

TEST(UvConnectTest, AllRefusedReportsTheLastAddress) {
  UvLoop loop;
  const uint16_t a = RefusedPort(), b = RefusedPort();
  Recorder r;
  auto client = UvSocket::connect(
      &loop, {*SocketAddress::fromIp("127.0.0.1", a), *SocketAddress::fromIp("127.0.0.1", b)});
  client->setHandler(&r);
  Settle(loop, r);
  ASSERT_TRUE(r.closed);
  EXPECT_FALSE(r.connected);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  const std::string where = "127.0.0.1:" + std::to_string(b);
  EXPECT_EQ(std::string(r.status.message()), "connect ECONNREFUSED " + where);  // Node's words
  EXPECT_EQ(nodeErrorCode(r.status), "ECONNREFUSED");
  SystemErrorInfo info = systemErrorInfo(r.status);
  EXPECT_EQ(info.syscall, "connect");
  EXPECT_EQ(info.address, where);
  EXPECT_EQ(info.description, "Connection refused");
}

TEST(UvConnectTest, LookupGivesTheAddressesToTry) {
  UvLoop loop;
  int listener = ListenOn(*SocketAddress::fromIp("127.0.0.1", 0));
  std::string asked;
  uint16_t asked_port = 0;
  LookupFunction lookup = [&](const std::string& host, uint16_t port, LookupCallback cb) {
    asked = host;
    asked_port = port;
    std::vector<SocketAddress> list = {*SocketAddress::fromIp("127.0.0.1", RefusedPort()),
                                       *SocketAddress::fromIp("127.0.0.1", PortOf(listener))};
    loop.post([cb, list] { cb(list); });
  };
  Recorder r;
  auto client = UvSocket::connect(&loop, "service.example", 4242, lookup);
  client->setHandler(&r);
  Settle(loop, r);
  EXPECT_TRUE(r.connected) << r.status;
  EXPECT_EQ(asked, "service.example");
  EXPECT_EQ(asked_port, 4242);
  client.reset();
  close(listener);
}

TEST(UvConnectTest, UnknownHostFailsWithENOTFOUND) {
  UvLoop loop;
  Recorder r;
  auto client = UvSocket::connect(&loop, "nonexistent.invalid", 80);
  client->setHandler(&r);
  Settle(loop, r);
  ASSERT_TRUE(r.closed);
  EXPECT_EQ(std::string(r.status.message()), "getaddrinfo ENOTFOUND nonexistent.invalid");
  EXPECT_EQ(systemErrorInfo(r.status).description, "Name or service not known");
}

TEST(UvConnectTest, UnixPathConnectsAndCarriesBytes) {
  UvLoop loop;
  const std::string path = TempSocketPath("uvc");
  unlink(path.c_str());
  auto address = SocketAddress::fromPath(path);
  ASSERT_TRUE(address.ok());
  int listener = ListenOn(*address);
  Recorder r;
  auto client = UvSocket::connect(&loop, {*address});
  client->setHandler(&r);
  Settle(loop, r);
  ASSERT_TRUE(r.connected) << r.status;
  EXPECT_EQ(client->remoteAddress(), "");  // Node: no remoteAddress for IPC
  EXPECT_EQ(client->localAddress(), "");
  int peer = accept(listener, nullptr, nullptr);
  ASSERT_EQ(send(peer, "pong", 4, 0), 4);
  for (int i = 0; i < 10000 && r.received.size() < 4; ++i) uv_run(loop.uv(), UV_RUN_ONCE);
  EXPECT_EQ(r.received, "pong");
  client.reset();
  close(peer);
  close(listener);
  unlink(path.c_str());
}

TEST(UvConnectTest, AbstractUnixNameConnects) {
  UvLoop loop;
  auto address = SocketAddress::fromPath(std::string(1, '\0') + "h2rpc-uvc-" +
                                         std::to_string(getpid()));
  ASSERT_TRUE(address.ok());
  EXPECT_TRUE(address->isAbstract());
  int listener = ListenOn(*address);
  Recorder r;
  auto client = UvSocket::connect(&loop, {*address});
  client->setHandler(&r);
  Settle(loop, r);
  EXPECT_TRUE(r.connected) << r.status;
  client.reset();
  close(listener);
}

TEST(UvConnectTest, MissingUnixPathFailsWithENOENT) {
  UvLoop loop;
  const std::string path = TempSocketPath("missing");
  unlink(path.c_str());
  Recorder r;
  auto client = UvSocket::connect(&loop, {*SocketAddress::fromPath(path)});
  client->setHandler(&r);
  Settle(loop, r);
  ASSERT_TRUE(r.closed);
  EXPECT_EQ(std::string(r.status.message()), "connect ENOENT " + path);
}

TEST(UvConnectTest, DestroyedWhileResolvingCallsNobody) {
  UvLoop loop;
  LookupCallback pending;
  Recorder r;
  auto client = UvSocket::connect(&loop, "x", 1, [&](const std::string&, uint16_t,
                                                     LookupCallback cb) { pending = cb; });
  client->setHandler(&r);
  client.reset();
  ASSERT_TRUE(pending);
  pending(std::vector<SocketAddress>{*SocketAddress::fromIp("127.0.0.1", RefusedPort())});
  for (int i = 0; i < 100; ++i) uv_run(loop.uv(), UV_RUN_NOWAIT);
  EXPECT_FALSE(r.closed);
  EXPECT_FALSE(r.connected);
}

TEST(UvConnectTest, LookupWithNoAddressFailsClearly) {
  UvLoop loop;
  Recorder r;
  auto client = UvSocket::connect(&loop, "empty.example", 1,
                                  [&](const std::string&, uint16_t, LookupCallback cb) {
                                    loop.post([cb] { cb(std::vector<SocketAddress>{}); });
                                  });
  client->setHandler(&r);
  Settle(loop, r);
  ASSERT_TRUE(r.closed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(r.status.message()), "connect: no address to try for 'empty.example'");
}

TEST(SocketAddressTest, Forms) {
  EXPECT_EQ(SocketAddress::fromIp("::1", 5)->toString(), "[::1]:5");
  EXPECT_EQ(SocketAddress::fromIp("[::1]", 5)->address(), "::1");
  EXPECT_EQ(SocketAddress::fromIp("10.1.2.3", 80)->toString(), "10.1.2.3:80");
  EXPECT_FALSE(SocketAddress::fromIp("example.com", 80).ok());
  EXPECT_EQ(SocketAddress::fromPath("/a/b")->toString(), "/a/b");
  EXPECT_EQ(SocketAddress::fromPath(std::string("\0n", 2))->toString(), "@n");
  EXPECT_FALSE(SocketAddress::fromPath("").ok());
  EXPECT_FALSE(SocketAddress::fromPath(std::string(1, '\0')).ok());
  EXPECT_FALSE(SocketAddress::fromPath(std::string(108, 'a')).ok());
  EXPECT_TRUE(SocketAddress::fromPath(std::string(107, 'a')).ok());
}

}  // namespace
}  // namespace h2rpc::transport
