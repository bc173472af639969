#include "transport/memory_quota.h"

#include "transport/session.h"

namespace h2rpc::transport {

void MemoryQuota::report(Http2Session* session, size_t bytes) {
  size_t& share = shares_[session];
  used_ = used_ - share + bytes;
  share = bytes;
}

void MemoryQuota::leave(Http2Session* session) {
  auto it = shares_.find(session);
  if (it == shares_.end()) return;
  used_ -= it->second;
  shares_.erase(it);
}

void MemoryQuota::refresh() {
  used_ = 0;
  for (auto& [session, bytes] : shares_) {
    bytes = session->memoryHeldByPeer();
    used_ += bytes;
  }
}

Http2Session* MemoryQuota::largest() const {
  // A walk over the sessions: only done while over the limit, which is rare and short (each
  // call is followed by a stream reset that brings the sum down).
  Http2Session* best = nullptr;
  size_t most = 0;
  for (const auto& [session, bytes] : shares_) {
    if (bytes > most) {
      most = bytes;
      best = session;
    }
  }
  return best;
}

}  // namespace h2rpc::transport
