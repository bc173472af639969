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
  owned_ = true;
  return FeedImpl(absl::string_view(chunk.data(), chunk.size()), &chunk);
}

absl::Status MessageDeframer::FeedImpl(absl::string_view bytes,
                                       const transport::SharedBuffer* owner) {
  if (!error_.ok()) return error_;
  if (bytes.empty()) return absl::OkStatus();
  size_t taken = 0;
  if (unparsed_.empty()) {
    taken = Parse(bytes, owner);
    if (!error_.ok()) return error_;
    if (taken == bytes.size()) return absl::OkStatus();
  }
  // The rest waits for Next(): a slice of the chunk, or a copy of what the caller lends us.
  transport::SharedBuffer rest =
      owner != nullptr ? owner->slice(static_cast<size_t>(bytes.data() - owner->data()) + taken,
                                      bytes.size() - taken)
                       : transport::SharedBuffer(std::string(bytes.substr(taken)));
  unparsed_bytes_ += rest.size();
  unparsed_.push_back(std::move(rest));
  return absl::OkStatus();
}

void MessageDeframer::ParseMore() {
  while (error_.ok() && !unparsed_.empty() && ready_.size() < max_ready_) {
    transport::SharedBuffer& front = unparsed_.front();
    const size_t taken =
        Parse(absl::string_view(front.data(), front.size()), owned_ ? &front : nullptr);
    unparsed_bytes_ -= taken;
    if (taken == front.size()) {
      unparsed_.pop_front();
    } else {
      front = front.slice(taken, front.size() - taken);
    }
  }
  if (!error_.ok()) {
    unparsed_.clear();
    unparsed_bytes_ = 0;
  }
}

bool MessageDeframer::HasPartial() const {
  if (unparsed_.empty()) return prefix_size_ > 0;
  // Walk the message boundaries of the unparsed bytes (they start at one) without parsing.
  uint8_t prefix[kMessagePrefixSize];
  size_t have = 0;        // prefix bytes seen of the current message
  uint64_t skip = 0;      // payload bytes still to skip
  for (const transport::SharedBuffer& b : unparsed_) {
    size_t pos = 0;
    while (pos < b.size()) {
      if (skip > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(skip, b.size() - pos));
        skip -= n;
        pos += n;
        continue;
      }
      prefix[have++] = static_cast<uint8_t>(b.data()[pos++]);
      if (have == kMessagePrefixSize) {
        skip = (uint64_t{prefix[1]} << 24) | (uint64_t{prefix[2]} << 16) |
               (uint64_t{prefix[3]} << 8) | uint64_t{prefix[4]};
        have = 0;  // skip > 0 at the end: the payload has not all arrived
      }
    }
  }
  return have > 0 || skip > 0;
}

size_t MessageDeframer::Parse(absl::string_view bytes, const transport::SharedBuffer* owner) {
  const size_t size = bytes.size();
  while (!bytes.empty()) {
    if (prefix_size_ == 0 && ready_.size() >= max_ready_) break;  // parse-ahead bound
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
        return size - bytes.size();
      }
      const auto* p = reinterpret_cast<const uint8_t*>(prefix_);
      const uint32_t length = (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) |
                              (uint32_t{p[3]} << 8) | uint32_t{p[4]};
      if (length > max_message_size_) {
        error_ = absl::ResourceExhaustedError(absl::StrCat(
            "Received message larger than max (", length, " vs. ", max_message_size_, ")"));
        return size - bytes.size();
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
        if (take > 0 && partial_.pieces.empty() && take < remaining_) {
          // More chunks to come (a message in 16 KiB DATA frames: 5 pieces per 64 KiB): room
          // for as many as chunks of this size would make, at most kMaxReservedPieces, so the
          // vector is not regrown (1, 2, 4, 8: four allocations for five pieces).
          constexpr size_t kMaxReservedPieces = 16;
          partial_.pieces.reserve(
              std::min<size_t>(kMaxReservedPieces, 1 + (remaining_ - 1) / take));
        }
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
  return size - bytes.size();
}

std::optional<MessageDeframer::Frame> MessageDeframer::Next() {
  if (ready_.empty()) return std::nullopt;
  Frame frame = std::move(ready_.front());
  ready_.pop_front();
  ready_bytes_ -= FrameBytes(frame);
  ParseMore();
  return frame;
}

}  // namespace h2rpc::rpc
