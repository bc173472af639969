// 1 GiB in both directions at once over loopback TCP: the client uploads, the server echoes
// every byte back as it arrives. Both sides honour backpressure (write() false → wait for
// 'drain'; the echo pauses reading meanwhile), so memory stays bounded by the flow-control
// windows and the socket buffers, whatever the size of the transfer. Peak RSS is checked.
#include <sys/resource.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "transport/connect.h"
#include "transport/server.h"
#include "transport/sanitizers.h"
#include "transport/uv_loop.h"

namespace h2rpc::transport {
namespace {

#ifdef H2RPC_ASAN
// ASan keeps freed memory in quarantine (256 MiB by default) and runs ~10x slower: transfer
// less, and do not read anything into RSS.
constexpr bool kSanitized = true;
constexpr size_t kDefaultBytes = size_t{128} << 20;
#else
constexpr bool kSanitized = false;
constexpr size_t kDefaultBytes = size_t{1} << 30;
#endif

long peakRssKb() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

TEST(BigTransferTest, OneGibibyteEachWayWithBoundedMemory) {
  const char* env = std::getenv("H2RPC_TRANSFER_BYTES");
  const size_t total = env ? std::strtoull(env, nullptr, 10) : kDefaultBytes;
  const size_t chunk_size = 64 * 1024;

  UvLoop loop;
  auto server = Http2Server::createServer(&loop);
  ASSERT_TRUE(server.ok());
  (*server)->onStream([](std::shared_ptr<ServerHttp2Stream> s, const Headers&, uint8_t) {
    ASSERT_TRUE(s->respond().ok());
    std::weak_ptr<ServerHttp2Stream> weak = s;
    s->onDrain([weak] {
      if (auto st = weak.lock()) st->resume();
    });
    s->onData([weak](std::string_view d) {
      auto st = weak.lock();
      if (st && !st->write(std::string(d))) st->pause();
    });
    s->onEnd([weak] {
      if (auto st = weak.lock()) st->end();
    });
  });
  ASSERT_TRUE((*server)->listen(0, "127.0.0.1").ok());

  auto client = connect(&loop, "http://127.0.0.1:" + std::to_string((*server)->port()));
  ASSERT_TRUE(client.ok());
  auto req = (*client)->request({{":method", "POST"}, {":path", "/echo"}});
  ASSERT_TRUE(req.ok());
  std::shared_ptr<ClientHttp2Stream> stream = *req;

  const long rss_before = peakRssKb();
  size_t sent = 0, received = 0;
  bool ended = false, mismatch = false;
  const std::string chunk(chunk_size, 'z');
  std::function<void()> pump = [&] {
    while (sent < total) {
      const size_t n = std::min(chunk_size, total - sent);
      sent += n;
      if (!stream->write(n == chunk_size ? chunk : chunk.substr(0, n))) return;  // wait: drain
    }
    stream->end();
  };
  stream->onDrain([&] { pump(); });
  stream->onData([&](std::string_view d) {
    received += d.size();
    if (d.find_first_not_of('z') != std::string_view::npos) mismatch = true;
  });
  stream->onEnd([&] {
    ended = true;
    (*client)->close();
    (*server)->close();
  });
  pump();
  loop.run();

  EXPECT_TRUE(ended);
  EXPECT_FALSE(mismatch);
  EXPECT_EQ(sent, total);
  EXPECT_EQ(received, total);
  if (kSanitized) return;
  const long grown_kb = peakRssKb() - rss_before;
  // Windows (64 KiB per stream and connection), socket high-water marks (256 KiB per side) and
  // the stream buffers (16 KiB + one chunk) bound it; 32 MiB leaves room for the allocator.
  EXPECT_LT(grown_kb, 32 * 1024) << "peak RSS grew by " << grown_kb << " KiB";
}

}  // namespace
}  // namespace h2rpc::transport
