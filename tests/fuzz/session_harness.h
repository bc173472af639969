// tests/fuzz/session_harness.h — what the session fuzzers share: a MemorySocket pair on a
// ManualLoop, one end held by a raw peer that counts what the session sends, and bounded loop
// runs. Sans I/O: no kernel, no clock but the ManualLoop's, every run deterministic.
//
// Threading: one thread. Lifetime: one harness per fuzz input; the loop outlives the sockets and
// sessions made on it (members are declared in that order).
#ifndef H2RPC_TESTS_FUZZ_SESSION_HARNESS_H_
#define H2RPC_TESTS_FUZZ_SESSION_HARNESS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "tests/fuzz/fuzz_util.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"

namespace h2rpc::fuzz {

// A livelock (work that keeps posting work) is a finding: no input of a few KB legitimately
// needs this many callbacks between two reads.
inline constexpr size_t kMaxCallbacksPerRun = 200'000;

class RawPeer : public transport::Socket::Handler {
 public:
  void onSocketConnect() override {}
  void onSocketData(std::string_view data) override { received += data.size(); }
  void onSocketDrain() override {}
  void onSocketClose(absl::Status) override { closed = true; }
  size_t received = 0;
  bool closed = false;
};

class PeerHarness {
 public:
  PeerHarness() {
    auto [local, peer] = transport::MemorySocket::pair(&loop);
    local_end = std::move(local);
    peer_end = std::move(peer);
    peer_end->setHandler(&raw);
  }
  ~PeerHarness() {
    if (peer_end) peer_end->setHandler(nullptr);
    peer_end.reset();
    loop.runUntilIdle(kMaxCallbacksPerRun);
  }

  // Runs posted work until none is left; a livelock aborts (a finding).
  void Run() {
    loop.runUntilIdle(kMaxCallbacksPerRun);
    H2RPC_FUZZ_CHECK(loop.idle());
  }
  // The peer writes `bytes` (one socket read on the other end), then everything settles.
  void Send(std::string_view bytes) {
    if (raw.closed || !peer_end) return;
    peer_end->write(std::string(bytes));
    Run();
  }
  // Moves the clock, firing due timers (stream and session timeouts, deadlines).
  void Advance(uint64_t ms) {
    loop.advance(ms);
    Run();
  }

  transport::ManualLoop loop;
  RawPeer raw;
  std::unique_ptr<transport::MemorySocket> local_end;  // given to the session under test
  std::unique_ptr<transport::MemorySocket> peer_end;
};

// RFC 9113 §3.4.
inline constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
// An empty SETTINGS frame: the server preface, or the client's after its magic.
inline constexpr std::string_view kEmptySettings{"\0\0\0\x04\0\0\0\0\0", 9};

}  // namespace h2rpc::fuzz

#endif  // H2RPC_TESTS_FUZZ_SESSION_HARNESS_H_
