// A server must survive clients that go away abruptly. Found by the interop tests: the
// rpc-layer server was killed by SIGPIPE (exit status 141) when interop_client's
// cancel_after_begin process ended, because the server answered the client's GOAWAY with its own
// after the client had closed the socket, and libuv writes with write(2), not MSG_NOSIGNAL. Fixed
// in transport/uv_loop.cc (UvLoop ignores SIGPIPE, as Node does, unless the application set a
// handler); this is the regression test. Before the fix it died (strace: write(...) = -1 EPIPE,
// "+++ killed by SIGPIPE +++"); with it, the same write fails with EPIPE and the server goes on.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

#include "gtest/gtest.h"
#include "rpc/server.h"
#include "tests/interop/grpc/test_service_impl.h"
#include "transport/uv_loop.h"

namespace h2rpc::interop {
namespace {

// In the death test's child process (SIGPIPE at its default disposition, as in a fresh program):
// serve while 50 clients, one after the other, open a connection, send the HTTP/2 preface,
// SETTINGS and GOAWAY, and close it at once, as a client does whose process ends right after its
// last call (interop_client's cancel_after_begin did). The server answers each GOAWAY with its
// own; when that write finds the peer gone (every time here, about 6 in 10 across processes),
// write(2) fails with EPIPE, which raises SIGPIPE. Exit 0 = the server survived them all.
void ServeClientsThatLeaveAtOnce() {
  transport::UvLoop loop;
  TestServiceImpl service(&loop);
  rpc::Server server(&loop);
  server.RegisterService(&service);
  if (!server.Listen("127.0.0.1", 0).ok()) _exit(2);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static const char kHello[] =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"                   // the client preface
      "\x00\x00\x00\x04\x00\x00\x00\x00\x00"              // SETTINGS (empty)
      "\x00\x00\x08\x07\x00\x00\x00\x00\x00"              // GOAWAY: last id 0,
      "\x00\x00\x00\x00\x00\x00\x00\x00";                  //   NO_ERROR
  for (int i = 0; i < 50; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(3);
    if (send(fd, kHello, sizeof kHello - 1, 0) != static_cast<ssize_t>(sizeof kHello - 1)) {
      _exit(4);
    }
    close(fd);
    std::unique_ptr<transport::Timer> tick = loop.createTimer();
    tick->start(20, [&loop] { loop.stop(); });
    loop.run();
  }
  _exit(0);
}

TEST(RpcFindingsDeathTest, ServerSurvivesClientsThatDisconnectAtOnce) {
  EXPECT_EXIT(ServeClientsThatLeaveAtOnce(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace h2rpc::interop
