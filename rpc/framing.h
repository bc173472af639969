// gRPC Length-Prefixed-Message framing (doc/PROTOCOL-HTTP2.md; notes §3): each message on a stream's
// DATA is a 1-byte Compressed-Flag (0 or 1), a 4-byte big-endian length and that many bytes. DATA
// frame boundaries are unrelated to message boundaries, so MessageDeframer reassembles messages from
// whatever chunks the transport delivers.
//
// Threading: FrameMessage/MessagePrefix are pure functions (any thread). A MessageDeframer is a
// plain value owned by one call: use it from one thread at a time.
// Lifetime: results own their bytes; Feed copies what it keeps, so its argument may be freed as soon
// as it returns.
#ifndef H2RPC_RPC_FRAMING_H_
#define H2RPC_RPC_FRAMING_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "transport/buffer.h"
#include "transport/fifo.h"

namespace h2rpc::rpc {

// Size of the Compressed-Flag + length prefix.
inline constexpr size_t kMessagePrefixSize = 5;
// gRPC's default receive limit (grpc-go, grpc-js: 4 MiB); sending is unlimited by default.
inline constexpr size_t kDefaultMaxReceiveMessageSize = size_t{4} << 20;

// The 5-byte prefix for a message of `length` bytes: flag 1 if `compressed`, else 0. For writing a
// large payload after it without copying the payload.
std::string MessagePrefix(uint32_t length, bool compressed);

// Prefix + payload in one string. Precondition: payload.size() <= UINT32_MAX (the caller enforces
// its max send size first); a larger payload cannot be framed and aborts the process.
std::string FrameMessage(absl::string_view payload, bool compressed);

// Incremental reassembly of the messages of one direction of one stream.
//
// Memory: a declared length is checked against the limit as soon as its prefix is complete and is
// never used to pre-allocate beyond `preallocate_up_to` (a peer declaring 1 GB and sending 10
// bytes costs 10 bytes, or that bound: grpc/grpc-go#1455). What is held is the queued complete messages plus at most one partial one
// (<= max_message_size); drain Next() after each Feed to keep it to one message + one feed.
class MessageDeframer {
 public:
  struct Frame {
    bool compressed = false;  // Compressed-Flag was 1: decompress with the stream's grpc-encoding
    std::string payload;
    // Messages fed as SharedBuffers: the payload as slices of the fed chunks (not copied), and
    // `payload` is empty. Assembled() gives one string either way.
    std::vector<transport::SharedBuffer> pieces;
    std::string Assembled() &&;
    friend bool operator==(const Frame&, const Frame&) = default;
  };

  // `max_message_size` bounds each message's declared length (on the wire, so compressed size for
  // compressed messages; the caller also bounds the decompressed size). SIZE_MAX = unlimited.
  // `preallocate_up_to`: a message's buffer is reserved for its declared length up to this many
  // bytes when its prefix arrives (one allocation, no copies as it grows). Callers pass their
  // stream's flow-control window: a peer can make the call hold that much with real bytes
  // anyway, so a lying prefix costs no more. 0 (default): reserve only what has arrived.
  explicit MessageDeframer(size_t max_message_size = kDefaultMaxReceiveMessageSize,
                           size_t preallocate_up_to = 0);

  // Consumes `bytes` (any split: a prefix across feeds, many or zero-length messages per feed).
  // Errors, after which every later Feed returns the same error and ignores its bytes (messages
  // completed before the error stay queued):
  //   declared length > max -> RESOURCE_EXHAUSTED "Received message larger than max (N vs. M)";
  //   Compressed-Flag not 0/1 -> INTERNAL.
  // With a parse-ahead bound (set_max_ready), Feed parses only until that many messages are
  // complete and keeps the rest of the bytes unparsed; Next() parses on, and an error found
  // then shows in status().
  absl::Status Feed(absl::string_view bytes);
  // The same for a chunk the deframer may keep: payload bytes are referenced as slices of it
  // (Frame::pieces) instead of being copied. Do not mix with Feed(string_view) on one deframer.
  // Memory: the slices keep their chunks alive, and the chunks are bytes the peer sent, so what
  // is held is still the queued messages plus one partial message (and the chunks' remainder).
  absl::Status Feed(const transport::SharedBuffer& chunk);

  // The oldest complete message not yet taken, or nullopt (then status() says whether the
  // bytes held were bad).
  std::optional<Frame> Next();
  // OK, or the error that stopped the deframer (sticky).
  const absl::Status& status() const { return error_; }
  // Parse-ahead bound: at most `n` complete messages are made at a time; the bytes after them
  // stay unparsed (slices of the fed chunks, counted in buffered_bytes()) until Next() takes
  // one. Calls use 1, so that what a peer sends costs what it sent (never a Frame per 5-byte
  // message for a whole window, nor a window's worth of decompressed messages at once) and
  // the work done per message read is bounded. Default: no bound (Feed parses everything).
  void set_max_ready(size_t n) { max_ready_ = n == 0 ? 1 : n; }

  // Bytes of an unfinished message (prefix or payload) are buffered, the unparsed bytes
  // included. At END_STREAM this means the stream ended in the middle of a message: the caller
  // fails the call with INTERNAL.
  bool HasPartial() const;

  // Complete messages waiting for Next().
  size_t queued() const { return ready_.size(); }
  // Bytes held: what arrived of the partial message, and the complete messages waiting for
  // Next(). What a call reports to its stream as retained (memory budget). A reserved buffer's
  // untouched tail is not counted: it costs address space, not memory, until bytes fill it.
  size_t buffered_bytes() const {
    return partial_.payload.size() + partial_pieces_bytes_ + ready_bytes_ + unparsed_bytes_;
  }
  size_t max_message_size() const { return max_message_size_; }

 private:
  // Parses `bytes` until they are used up or max_ready_ messages are complete; returns how
  // many bytes it took (all of them, or up to a message boundary). Sets error_ on bad input.
  size_t Parse(absl::string_view bytes, const transport::SharedBuffer* owner);
  absl::Status FeedImpl(absl::string_view bytes, const transport::SharedBuffer* owner);
  // Parses unparsed_ until max_ready_ messages are complete or it is empty.
  void ParseMore();

  size_t max_message_size_;
  size_t preallocate_up_to_;
  absl::Status error_;                 // sticky
  char prefix_[kMessagePrefixSize]{};  // the current message's prefix, prefix_size_ bytes of it
  size_t prefix_size_ = 0;             // 0: between messages; 5: reading the payload
  uint32_t remaining_ = 0;             // payload bytes still to come once the prefix is complete
  Frame partial_;
  size_t partial_pieces_bytes_ = 0;  // bytes in partial_.pieces
  transport::Fifo<Frame> ready_;
  size_t ready_bytes_ = 0;  // buffered_bytes() of the frames in ready_
  size_t max_ready_ = SIZE_MAX;
  // Bytes fed but not parsed yet (only while ready_ holds max_ready_ messages), as slices of
  // the fed chunks (or copies of string_view feeds), oldest first. Parsing resumes at a message
  // boundary, so prefix_size_ is 0 whenever this is not empty.
  transport::Fifo<transport::SharedBuffer> unparsed_;
  size_t unparsed_bytes_ = 0;
  bool owned_ = false;  // fed SharedBuffers: payloads are slices of them
  static size_t FrameBytes(const Frame& f) {
    size_t n = f.payload.size();
    for (const transport::SharedBuffer& p : f.pieces) n += p.size();
    return n;
  }
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_FRAMING_H_
