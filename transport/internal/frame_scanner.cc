#include "transport/internal/frame_scanner.h"

#include <algorithm>

namespace h2rpc::transport::internal {

namespace {
constexpr uint8_t kData = 0x0;
constexpr uint8_t kHeaders = 0x1;
}  // namespace

size_t FrameScanner::scan(std::string_view data, Frame* frame, bool* found) {
  *found = false;
  size_t i = 0;
  while (i < data.size()) {
    if (skip_ > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(skip_, data.size() - i));
      skip_ -= n;
      i += n;
      continue;
    }
    if (have_ == 8 && !reported_ && (head_[3] == kData || head_[3] == kHeaders)) {
      // The stream id's last byte is the header's last: peek at it, leave it unread.
      const auto last = static_cast<uint8_t>(data[i]);
      frame->length = (uint32_t{head_[0]} << 16) | (uint32_t{head_[1]} << 8) | head_[2];
      frame->type = head_[3];
      frame->flags = head_[4];
      frame->stream_id = static_cast<int32_t>(((uint32_t{head_[5]} & 0x7f) << 24) |
                                              (uint32_t{head_[6]} << 16) |
                                              (uint32_t{head_[7]} << 8) | last);
      reported_ = true;
      *found = true;
      return i;
    }
    head_[have_++] = static_cast<uint8_t>(data[i++]);
    if (have_ == 9) {
      skip_ = (uint64_t{head_[0]} << 16) | (uint64_t{head_[1]} << 8) | head_[2];
      have_ = 0;
      reported_ = false;
    }
  }
  return i;
}

}  // namespace h2rpc::transport::internal
