#include "transport/internal/closed_streams.h"

#include <algorithm>

namespace h2rpc::transport::internal {

void ClosedStreams::closed(int32_t id, uint32_t error_code) {
  How how = How::kUnknown;
  if (pending_.id == id) {
    how = pending_.how;  // a reset: the peer's (a stream error after it) or ours (ignore)
  } else if (error_code == 0) {
    how = How::kPeerEnded;
  }
  pending_ = Pending();
  if (id <= 0) return;
  if (how == How::kPeerEnded) add(static_cast<uint32_t>(id));
  if (how == How::kPeerReset) add(static_cast<uint32_t>(id) | kResetBit);
}

void ClosedStreams::add(uint32_t entry) {
  max_id_ = std::max(max_id_, entry & ~kResetBit);
  if (entries_.size() < kCapacity) {
    entries_.push_back(entry);
    return;
  }
  entries_[next_] = entry;
  next_ = (next_ + 1) % kCapacity;
}

ClosedStreams::How ClosedStreams::find(int32_t id) const {
  // Ids above every recorded one (new streams: the common case) cannot match. Below it, only
  // frames on streams nghttp2 no longer knows get here (late or hostile ones), and the scan is
  // over at most 4 KiB: no index needed.
  if (id <= 0 || static_cast<uint32_t>(id) > max_id_) return How::kUnknown;
  for (uint32_t e : entries_) {
    if ((e & ~kResetBit) == static_cast<uint32_t>(id)) {
      return (e & kResetBit) ? How::kPeerReset : How::kPeerEnded;
    }
  }
  return How::kUnknown;
}

}  // namespace h2rpc::transport::internal
