// Fuzz target: gRPC message deframing and decompression (rpc/framing.h, rpc/compression.h), as a
// call reads its stream: the input's bytes fed in input-chosen chunks to a MessageDeframer, each
// complete message decompressed with the stream's grpc-encoding under a receive limit.
// Input: byte 0 = options (bits 0-1 encoding, bit 2 SharedBuffer feeds, bits 3-5 limit, bits 6-7
// parse-ahead bound: none, 1, 2, 3), bytes 1-2 = read split (fuzz_util.h), byte 3 =
// preallocation bound, then the DATA bytes. With a bound, the reader is slow (one message per
// feed, then the rest) and what it gets must equal what an unbounded deframer makes of the
// same bytes: the same messages in the same order, the same error, the same partial tail.
#include <utility>
#include <vector>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rpc/compression.h"
#include "rpc/framing.h"
#include "tests/fuzz/fuzz_util.h"
#include "transport/buffer.h"

namespace {

using namespace h2rpc::rpc;  // NOLINT: the functions under test
using h2rpc::fuzz::Input;

constexpr size_t kLimits[8] = {0, 1, 5, 100, 1024, 65536, size_t{1} << 20, size_t{4} << 20};
// Decompressing is bounded by the limit; keep a zip bomb's cost per input to this.
constexpr size_t kMaxInflate = size_t{1} << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t options = in.Byte();
  const uint16_t split = in.U16();
  const size_t preallocate = size_t{in.Byte()} << 8;
  const std::string_view rest = in.Rest();
  const absl::string_view stream(rest.data(), rest.size());  // Debian's absl has its own

  const Compression compression = (options & 3) == 1   ? Compression::kGzip
                                  : (options & 3) == 2 ? Compression::kDeflate
                                                       : Compression::kIdentity;
  const bool shared = options & 4;
  const size_t limit = kLimits[(options >> 3) & 7];

  const size_t max_ready = options >> 6;  // 0: no bound

  // The reference: every byte at once, no bound.
  std::vector<std::pair<bool, std::string>> expected;
  MessageDeframer reference(limit);
  const absl::Status reference_status = reference.Feed(stream);
  while (std::optional<MessageDeframer::Frame> f = reference.Next()) {
    expected.emplace_back(f->compressed, std::move(*f).Assembled());
  }
  std::vector<std::pair<bool, std::string>> got;

  MessageDeframer deframer(limit, preallocate);
  if (max_ready > 0) deframer.set_max_ready(max_ready);
  absl::Status error;
  size_t delivered = 0;
  for (std::string_view read : h2rpc::fuzz::SplitReads(rest, split)) {
    const absl::Status st = shared ? deframer.Feed(h2rpc::transport::SharedBuffer(std::string(read)))
                                   : deframer.Feed(absl::string_view(read.data(), read.size()));
    if (!error.ok()) H2RPC_FUZZ_CHECK(st == error);  // errors are sticky
    if (!st.ok()) {
      H2RPC_FUZZ_CHECK(st.code() == absl::StatusCode::kResourceExhausted ||
                       st.code() == absl::StatusCode::kInternal);
      error = st;
    }
    if (max_ready > 0) H2RPC_FUZZ_CHECK(deframer.queued() <= max_ready);
    // A slow reader takes one message per feed; an unbounded one drains.
    int take = max_ready > 0 ? 1 : -1;
    while (take != 0) {
      std::optional<MessageDeframer::Frame> frame = deframer.Next();
      if (!frame) break;
      --take;
      const bool compressed = frame->compressed;
      std::string payload = std::move(*frame).Assembled();
      got.emplace_back(compressed, payload);
      H2RPC_FUZZ_CHECK(payload.size() <= limit);
      delivered += kMessagePrefixSize + payload.size();
      if (!compressed) continue;
      auto plain = Decompress(compression, payload, limit < kMaxInflate ? limit : kMaxInflate);
      if (plain.ok()) {
        H2RPC_FUZZ_CHECK(plain->size() <= limit);
      } else {
        H2RPC_FUZZ_CHECK(plain.status().code() == absl::StatusCode::kResourceExhausted ||
                         plain.status().code() == absl::StatusCode::kInternal);
      }
    }
  }
  // The rest, for the slow reader.
  while (std::optional<MessageDeframer::Frame> frame = deframer.Next()) {
    const bool compressed = frame->compressed;
    std::string payload = std::move(*frame).Assembled();
    delivered += kMessagePrefixSize + payload.size();
    got.emplace_back(compressed, std::move(payload));
  }
  H2RPC_FUZZ_CHECK(delivered <= stream.size());
  H2RPC_FUZZ_CHECK(deframer.queued() == 0);
  // Any split, any bound: what the reference made of the bytes.
  H2RPC_FUZZ_CHECK(got == expected);
  const absl::Status final_status = error.ok() ? deframer.status() : error;
  H2RPC_FUZZ_CHECK(final_status.code() == reference_status.code());
  if (final_status.ok()) {
    H2RPC_FUZZ_CHECK(deframer.HasPartial() == reference.HasPartial());
    H2RPC_FUZZ_CHECK(deframer.buffered_bytes() == reference.buffered_bytes());
  }

  // Round trips: compressing then decompressing, framing then deframing, give the bytes back.
  auto packed = Compress(compression, stream);
  H2RPC_FUZZ_CHECK(packed.ok());
  auto unpacked = Decompress(compression, *packed, stream.size());
  H2RPC_FUZZ_CHECK(unpacked.ok() && *unpacked == stream);
  MessageDeframer again(SIZE_MAX);
  H2RPC_FUZZ_CHECK(again.Feed(FrameMessage(stream, compression != Compression::kIdentity)).ok());
  std::optional<MessageDeframer::Frame> frame = again.Next();
  H2RPC_FUZZ_CHECK(frame && std::move(*frame).Assembled() == stream && !again.HasPartial());

  // grpc-encoding and grpc-accept-encoding values.
  (void)CompressionFromName(stream);
  H2RPC_FUZZ_CHECK(ParseAcceptEncoding(stream).Contains(Compression::kIdentity));
  return 0;
}
