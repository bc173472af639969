#include "rpc/framing.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace h2rpc::rpc {

std::string MessagePrefix(uint32_t length, bool compressed) {
  std::string prefix(kMessagePrefixSize, '\0');
  prefix[0] = compressed ? 1 : 0;
  prefix[1] = static_cast<char>(length >> 24);
  prefix[2] = static_cast<char>(length >> 16);
  prefix[3] = static_cast<char>(length >> 8);
  prefix[4] = static_cast<char>(length);
  return prefix;
}

std::string FrameMessage(absl::string_view payload, bool compressed) {
  // A wrong length would desynchronise the whole stream; failing loudly is the only safe option.
  if (payload.size() > UINT32_MAX) std::abort();
  std::string framed;
  framed.reserve(kMessagePrefixSize + payload.size());
  framed.append(MessagePrefix(static_cast<uint32_t>(payload.size()), compressed));
  framed.append(payload.data(), payload.size());
  return framed;
}

MessageDeframer::MessageDeframer(size_t max_message_size, size_t preallocate_up_to)
    : max_message_size_(max_message_size), preallocate_up_to_(preallocate_up_to) {}

std::string MessageDeframer::Frame::Assembled() && {
  if (pieces.empty()) return std::move(payload);
  size_t total = 0;
  for (const transport::SharedBuffer& p : pieces) total += p.size();
  std::string out;
  out.reserve(total);
  for (const transport::SharedBuffer& p : pieces) out.append(p.data(), p.size());
  pieces.clear();
  return out;
}

absl::Status MessageDeframer::Feed(absl::string_view bytes) { return FeedImpl(bytes, nullptr); }

absl::Status MessageDeframer::Feed(const transport::SharedBuffer& chunk) {
  return FeedImpl(absl::string_view(chunk.data(), chunk.size()), &chunk);
}

absl::Status MessageDeframer::FeedImpl(absl::string_view bytes,
                                       const transport::SharedBuffer* owner) {
  if (!error_.ok()) return error_;
  while (!bytes.empty()) {
    if (prefix_size_ < kMessagePrefixSize) {
      const size_t take = std::min(kMessagePrefixSize - prefix_size_, bytes.size());
      std::copy_n(bytes.data(), take, prefix_ + prefix_size_);
      prefix_size_ += take;
      bytes.remove_prefix(take);
      if (prefix_size_ < kMessagePrefixSize) break;

      const auto flag = static_cast<uint8_t>(prefix_[0]);
      if (flag > 1) {
        error_ = absl::InternalError(
            absl::StrFormat("Received message with invalid Compressed-Flag 0x%02X", flag));
        return error_;
      }
      const auto* p = reinterpret_cast<const uint8_t*>(prefix_);
      const uint32_t length = (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) |
                              (uint32_t{p[3]} << 8) | uint32_t{p[4]};
      if (length > max_message_size_) {
        error_ = absl::ResourceExhaustedError(absl::StrCat(
            "Received message larger than max (", length, " vs. ", max_message_size_, ")"));
        return error_;
      }
      partial_.compressed = flag == 1;
      remaining_ = length;
      // Reserve what this feed already holds, or the declared length up to the caller's bound;
      // never more than the declared length. (Slices of owned chunks need no buffer.)
      if (owner == nullptr) {
        partial_.payload.reserve(
            std::min<size_t>(length, std::max(bytes.size(), preallocate_up_to_)));
      }
    } else {
      const size_t take = std::min<size_t>(remaining_, bytes.size());
      if (owner != nullptr) {
        if (take > 0) {
          partial_.pieces.push_back(
              owner->slice(static_cast<size_t>(bytes.data() - owner->data()), take));
          partial_pieces_bytes_ += take;
        }
      } else {
        partial_.payload.append(bytes.data(), take);
      }
      remaining_ -= static_cast<uint32_t>(take);
      bytes.remove_prefix(take);
    }
    if (remaining_ == 0) {  // also right after the prefix of a zero-length message
      ready_bytes_ += FrameBytes(partial_);
      ready_.push_back(std::move(partial_));
      partial_ = Frame();
      partial_pieces_bytes_ = 0;
      prefix_size_ = 0;
    }
  }
  return absl::OkStatus();
}

std::optional<MessageDeframer::Frame> MessageDeframer::Next() {
  if (ready_.empty()) return std::nullopt;
  Frame frame = std::move(ready_.front());
  ready_.pop_front();
  ready_bytes_ -= FrameBytes(frame);
  return frame;
}

}  // namespace h2rpc::rpc
