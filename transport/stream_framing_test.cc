// How a stream's writes become DATA frames on the socket (Http2Stream::readForFraming), sans
// I/O: a client and a server session on a MemorySocket pair and a ManualLoop.
#include <cstdint>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

TEST(StreamFramingTest, ManySmallWritesReachTheSocketAsFewBuffers) {
  // 4096 writes of 5 bytes (empty gRPC messages, as bench_server's both_streaming sends them):
  // each DATA frame's pieces must reach the socket as one buffer, not one iovec per write.
  // libuv sends at most IOV_MAX (1024) iovecs per writev and waits a loop turn for the rest, so
  // one buffer per piece let a connection send only 1024 messages per loop turn.
  ManualLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  MemorySocket* server_socket = a.get();
  auto server = *ServerHttp2Session::create(&loop, std::move(a), {});
  auto client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost", {});
  constexpr int kWrites = 4096;
  server->onStream([&](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    ASSERT_TRUE(s->respond().ok());
    for (int i = 0; i < kWrites; ++i) s->write(std::string("\0\0\0\0\0", 5));
    s->end();
  });
  auto req = client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  size_t received = 0;
  bool ended = false;
  (*req)->onData([&](std::string_view d) { received += d.size(); });
  (*req)->onEnd([&] { ended = true; });
  loop.runUntilIdle();
  EXPECT_TRUE(ended);
  EXPECT_EQ(received, 5u * kWrites);
  // 20 KiB of payload: two DATA frames of at most 16 KiB, each a header and one payload buffer,
  // plus the SETTINGS, HEADERS... Far below one buffer per write.
  EXPECT_LT(server_socket->writevBuffers().size(), 32u);
}

TEST(StreamFramingTest, LargeWritesStillGoOutUncopiedBetweenSmallOnes) {
  // A large payload between small ones is still a slice of the written buffer (no copy).
  ManualLoop loop;
  auto [a, b] = MemorySocket::pair(&loop);
  MemorySocket* server_socket = a.get();
  auto server = *ServerHttp2Session::create(&loop, std::move(a), {});
  auto client = *ClientHttp2Session::create(&loop, std::move(b), "http", "localhost", {});
  SharedBuffer big = SharedBuffer::ForOverwrite(8000);
  for (size_t i = 0; i < big.size(); ++i) big.mutable_data()[i] = static_cast<char>('a' + i % 26);
  const auto begin = reinterpret_cast<uintptr_t>(big.data());
  server->onStream([&](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    ASSERT_TRUE(s->respond().ok());
    s->write(std::string("abc"));
    s->write(big);
    s->write(std::string("xyz"));
    s->end();
  });
  auto req = client->request({{":path", "/"}});
  ASSERT_TRUE(req.ok());
  std::string body;
  (*req)->onData([&](std::string_view d) { body += d; });
  loop.runUntilIdle();
  EXPECT_EQ(body, "abc" + std::string(big.view()) + "xyz");
  size_t referenced = 0;
  for (const auto& [address, size] : server_socket->writevBuffers()) {
    if (address >= begin && address + size <= begin + big.size()) referenced += size;
  }
  EXPECT_EQ(referenced, big.size());
}

}  // namespace
}  // namespace h2rpc::transport
