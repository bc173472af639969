// Http2Session's memory budget: maxSessionMemory per session and a MemoryQuota across the
// sessions of a server. See SessionOptions::maxSessionMemory and memory_quota.h.
//
// What a peer can make us hold: data it sent that is not read yet, what the application retains
// for its streams (a partial gRPC message), and data we cannot send because the peer keeps its
// window shut. Data that is flowing out (the peer's window is open) drains by itself and is not
// held against the peer. Growth is checked where it happens (a DATA chunk received, a write, a
// retained-bytes report), so no stream grows past the budget: the stream holding the most is
// reset with ENHANCE_YOUR_CALM, which frees its bytes at once.
#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "transport/constants.h"
#include "transport/session.h"

namespace h2rpc::transport {

namespace {

// Resets per check: each frees the largest holder, so one is almost always enough; the bound
// keeps a check's work small whatever the peer does.
constexpr int kMaxResetsPerCheck = 16;
// How long a window that ran out may stay shut before the bytes behind it count as held by
// the peer: a reading peer credits us within a round trip.
constexpr uint64_t kStallGraceMs = 1000;

}  // namespace

size_t Http2Session::unsentHeldByPeer(Http2Stream& stream, uint64_t now, bool connection_shut) {
  // On a client, what we send is the application's own requests: never the server's doing.
  if (type_ == Type::kClient || stream.buffer_size_ == 0 || stream.nghttp2_closed_) return 0;
  const bool stream_shut = nghttp2_session_get_stream_remote_window_size(ng_, stream.id_) <= 0;
  if (!stream_shut) stream.stalled_since_ = Http2Stream::kNotStalled;
  if (!stream_shut && !connection_shut && !socketStalled(now)) return 0;  // flowing out
  // A window the peer never opened (SETTINGS_INITIAL_WINDOW_SIZE 0): it asked for a response
  // it does not let us send.
  if (stream_shut && !stream.sent_data_) return stream.buffer_size_;
  if (socketStalled(now)) return stream.buffer_size_;
  // A window that ran out: a reading peer opens it again within a round trip; one that has
  // not done so for kStallGraceMs holds these bytes. (The clocks start when a check first sees
  // the window shut and stop at the peer's next WINDOW_UPDATE.)
  if (stream_shut && stream.stalled_since_ == Http2Stream::kNotStalled) {
    stream.stalled_since_ = now;
  }
  const bool stream_stalled = stream_shut && now - stream.stalled_since_ >= kStallGraceMs;
  const bool connection_stalled =
      connection_shut && now - connection_stalled_since_ >= kStallGraceMs;
  return stream_stalled || connection_stalled ? stream.buffer_size_ : 0;
}

bool Http2Session::socketStalled(uint64_t now) {
  const bool blocked = socket_ && socket_->writeQueueSize() >= kSocketHighWater;
  if (!blocked) {
    socket_stalled_since_ = Http2Stream::kNotStalled;
    return false;
  }
  if (socket_stalled_since_ == Http2Stream::kNotStalled) socket_stalled_since_ = now;
  return now - socket_stalled_since_ >= kStallGraceMs;
}

size_t Http2Session::memoryHeldByPeer() {
  // memoryInUse() less the unsent bytes that are flowing out, or only waiting a round trip for
  // the peer's credit. A walk, done only when over a budget.
  const uint64_t now = loop_->now();
  const bool connection_shut = ng_ != nullptr && nghttp2_session_get_remote_window_size(ng_) <= 0;
  if (!connection_shut) connection_stalled_since_ = Http2Stream::kNotStalled;
  if (connection_shut && connection_stalled_since_ == Http2Stream::kNotStalled) {
    connection_stalled_since_ = now;
  }
  size_t not_held = 0;
  if (ng_ != nullptr) {
    for (const auto& [id, stream] : streams_) {
      not_held += stream->buffer_size_ - unsentHeldByPeer(*stream, now, connection_shut);
    }
  }
  const size_t used = memoryInUse();
  return used > not_held ? used - not_held : 0;
}

bool Http2Session::reclaimMemory(const Http2Stream* prefer) {
  if (destroyed_ || ng_ == nullptr) return false;
  const uint64_t now = loop_->now();
  const bool connection_shut = nghttp2_session_get_remote_window_size(ng_) <= 0;
  std::shared_ptr<Http2Stream> victim;
  size_t most = 0;
  for (const auto& [id, stream] : streams_) {
    // What the peer made us hold for this stream, its request headers and the stream itself
    // included (many streams with large headers can fill a quota too).
    const size_t held = stream->inbox_bytes_ + stream->retained_bytes_ + stream->header_bytes_ +
                        sizeof(Http2Stream) + unsentHeldByPeer(*stream, now, connection_shut);
    if (held > most || (held == most && held > 0 && stream.get() == prefer)) {
      most = held;
      victim = stream;
    }
  }
  if (!victim) return false;
  ++memory_resets_;
  victim->resetForMemory();
  return true;
}

void Http2Session::checkMemory(const Http2Stream* grown) {
  // Servers only: what a client holds is the responses its application asked for, bounded by
  // its calls (their count, message size limit and flow-control windows); a client session
  // keeps Node's budget, which refuses streams the server pushes.
  if (type_ == Type::kClient) return;
  if (checking_memory_ || destroyed_ || ng_ == nullptr) return;
  checking_memory_ = true;
  auto self = shared_from_this();
  const size_t limit = static_cast<size_t>(options_.maxSessionMemory) * 1000000;
  for (int i = 0; i < kMaxResetsPerCheck && memoryInUse() > limit; ++i) {
    if (memoryHeldByPeer() <= limit || !reclaimMemory(grown)) break;
  }
  if (options_.memoryQuota && !destroyed_) {
    options_.memoryQuota->report(this, memoryInUse());
    if (options_.memoryQuota->over()) reclaimFromQuota();
  }
  checking_memory_ = false;
}

void Http2Session::reclaimFromQuota() {
  MemoryQuota& quota = *options_.memoryQuota;
  for (int i = 0; i < kMaxResetsPerCheck; ++i) {
    // Reports go stale as sessions drain: re-read them (without what is flowing out) first.
    quota.refresh();
    if (!quota.over()) return;
    Http2Session* largest = quota.largest();
    if (largest == nullptr) return;
    auto keep = largest->shared_from_this();
    if (!largest->reclaimMemory()) return;
  }
}

bool Http2Session::quotaAdmitsStream() {
  if (!options_.memoryQuota) return true;
  MemoryQuota& quota = *options_.memoryQuota;
  quota.report(this, memoryInUse() + sizeof(Http2Stream));
  if (quota.over()) reclaimFromQuota();
  return !quota.over();
}

void Http2Session::leaveQuota() {
  if (options_.memoryQuota) options_.memoryQuota->leave(this);
}

}  // namespace h2rpc::transport
