// transport/testing/received_buffers.h — test-only, for the session tests of how received DATA
// is kept (slices of the socket's buffers or copies): a server that answers every request with
// a body, the SharedBuffers a client stream's onDataBuffer hands over, and which buffer the
// MemorySocket delivered a payload's bytes lie in.
//
// Threading: the test's thread (SessionPair's ManualLoop).
#ifndef H2RPC_TRANSPORT_TESTING_RECEIVED_BUFFERS_H_
#define H2RPC_TRANSPORT_TESTING_RECEIVED_BUFFERS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "transport/buffer.h"
#include "transport/memory_socket.h"
#include "transport/session.h"
#include "transport/testing/session_pair.h"

namespace h2rpc::transport {

// The pair's server responds (200) to every request and ends it with body(request headers).
inline void RespondWithBody(SessionPair& p, std::function<std::string(const Headers&)> body) {
  p.on_stream = [body = std::move(body)](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    ASSERT_TRUE(s->respond().ok());
    s->end(body(h));
  };
}
inline void RespondWithBody(SessionPair& p, std::string body) {
  RespondWithBody(p, [body = std::move(body)](const Headers&) { return body; });
}

// Every chunk `stream` delivers to onDataBuffer, in order (kept: the buffers own their bytes).
// Listens from construction on; not movable (the listener holds `this`).
struct ReceivedBuffers {
  explicit ReceivedBuffers(ClientHttp2Stream& stream) {
    stream.onDataBuffer([this](const SharedBuffer& b) { chunks.push_back(b); });
  }
  ReceivedBuffers(const ReceivedBuffers&) = delete;
  ReceivedBuffers& operator=(const ReceivedBuffers&) = delete;

  std::string joined() const {
    std::string s;
    for (const SharedBuffer& b : chunks) s += b.view();
    return s;
  }

  std::vector<SharedBuffer> chunks;
};

// The buffer (address, size) `socket` delivered to its session that holds all of [address,
// address + size), if one does.
inline std::optional<std::pair<uintptr_t, size_t>> DeliveredBufferHolding(
    const MemorySocket& socket, const void* address, size_t size) {
  const auto at = reinterpret_cast<uintptr_t>(address);
  for (const auto& [a, n] : socket.deliveredBuffers()) {
    if (at >= a && at + size <= a + n) return std::make_pair(a, n);
  }
  return std::nullopt;
}

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_TESTING_RECEIVED_BUFFERS_H_
