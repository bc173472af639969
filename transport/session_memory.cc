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

}  // namespace

size_t Http2Session::memoryHeldByPeer() const {
  // memoryInUse() less what is flowing out: unsent bytes of streams the peer lets us send to.
  // A walk, done only when over a budget.
  size_t flowing = 0;
  if (ng_ != nullptr && nghttp2_session_get_remote_window_size(ng_) > 0) {
    for (const auto& [id, stream] : streams_) {
      if (stream->buffer_size_ > 0 && nghttp2_session_get_stream_remote_window_size(ng_, id) > 0) {
        flowing += stream->buffer_size_;
      }
    }
  }
  const size_t used = memoryInUse();
  return used > flowing ? used - flowing : 0;
}

bool Http2Session::reclaimMemory(const Http2Stream* prefer) {
  if (destroyed_ || ng_ == nullptr) return false;
  const bool connection_stalled = nghttp2_session_get_remote_window_size(ng_) <= 0;
  std::shared_ptr<Http2Stream> victim;
  size_t most = 0;
  for (const auto& [id, stream] : streams_) {
    size_t held = stream->inbox_bytes_ + stream->retained_bytes_;
    if (stream->buffer_size_ > 0 &&
        (connection_stalled || nghttp2_session_get_stream_remote_window_size(ng_, id) <= 0)) {
      held += stream->buffer_size_;
    }
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
