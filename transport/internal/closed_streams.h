// transport/internal/closed_streams.h — how the recently closed streams of one HTTP/2 session
// closed, so that a DATA or HEADERS frame arriving on one of them is answered as RFC 9113 §5.1
// says (the "half-closed (remote)" and "closed" states):
//   - both sides ended it (END_STREAM), no RST_STREAM: any further DATA/HEADERS is a connection
//     error STREAM_CLOSED;
//   - the peer reset it (RST_STREAM): a stream error STREAM_CLOSED;
//   - we reset it: frames "MUST" be ignored (they may have crossed our RST_STREAM), so such
//     streams are not recorded at all.
// nghttp2 cannot tell these apart for us: the session runs it with no_closed_streams (see
// Http2Session::init()), so a closed stream is forgotten the moment it closes.
//
// Bounded: at most kCapacity streams are remembered (4 bytes each, so at most 4 KiB a session,
// allocated as streams close), the oldest forgotten first. A frame on a forgotten stream is
// ignored, as it was before this class existed and as Node 20 does: a late frame comes within a
// round trip, while kCapacity closes take many. The 20,000-streams-per-connection test
// (session_test.cc) runs past the cap.
//
// Threading: the session's loop thread. Lifetime: a value, owned by the session.
#ifndef H2RPC_TRANSPORT_INTERNAL_CLOSED_STREAMS_H_
#define H2RPC_TRANSPORT_INTERNAL_CLOSED_STREAMS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace h2rpc::transport::internal {

class ClosedStreams {
 public:
  enum class How : uint8_t {
    kUnknown,    // not recorded (never closed, reset by us first, or forgotten): ignore frames
    kPeerEnded,  // the peer sent END_STREAM: frames after it are a connection error
    kPeerReset,  // the peer sent RST_STREAM before END_STREAM: frames after it are a stream error
  };

  static constexpr size_t kCapacity = 1024;

  // RST_STREAM on `id` was received (peerReset) or sent (localReset): nghttp2 closes the stream
  // right after, and closed() is told which. Both sides' RST_STREAM take this way, also the ones
  // nghttp2 sends by itself.
  void peerReset(int32_t id) { pending_ = {id, How::kPeerReset}; }
  void localReset(int32_t id) { pending_ = {id, How::kUnknown}; }

  // `id` closed with `error_code` (nghttp2's on_stream_close). Without a reset just before, a
  // stream closes with NO_ERROR only when both sides have ended it: the peer sent END_STREAM.
  // (nghttp2 reports a reset stream as remotely closed too, so that cannot tell.) Any other
  // code without a reset (a stream refused by GOAWAY, ...) is not recorded.
  void closed(int32_t id, uint32_t error_code);

  How find(int32_t id) const;

  size_t size() const { return entries_.size(); }

 private:
  static constexpr uint32_t kResetBit = 0x80000000u;  // stream ids are 31 bits
  void add(uint32_t entry);

  std::vector<uint32_t> entries_;  // id | kResetBit if reset by the peer; a ring once full
  size_t next_ = 0;                // the oldest entry (next to overwrite) once full
  // The highest id ever recorded. A frame that opens a new stream (a HEADERS with an id above
  // every stream seen) comes here on every request, because nghttp2 does not know the stream
  // yet: without this bound each request paid a scan of the whole ring (~6.5k instructions per
  // unary call, bench/PROFILE.md).
  uint32_t max_id_ = 0;
  struct Pending {
    int32_t id = 0;
    How how = How::kUnknown;
  };
  Pending pending_;
};

}  // namespace h2rpc::transport::internal

#endif  // H2RPC_TRANSPORT_INTERNAL_CLOSED_STREAMS_H_
