#include "rpc/framing.h"

#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "rpc/testing/peak_heap.h"

using h2rpc::rpc::testing::PeakHeap;

namespace h2rpc::rpc {
namespace {

using Frame = MessageDeframer::Frame;

std::vector<Frame> Drain(MessageDeframer& deframer) {
  std::vector<Frame> frames;
  while (std::optional<Frame> frame = deframer.Next()) frames.push_back(std::move(*frame));
  return frames;
}

// The memory tests below rely on the counting operator new; check that it sees std::string.
TEST(PeakHeapTest, SeesStringAllocations) {
  const PeakHeap heap;
  {
    std::string big(1 << 20, 'x');
    EXPECT_EQ(big[12345], 'x');
  }
  EXPECT_GE(heap.Growth(), 1 << 20);
}

TEST(FramingTest, MessagePrefix) {
  EXPECT_EQ(MessagePrefix(0, false), std::string("\0\0\0\0\0", 5));
  EXPECT_EQ(MessagePrefix(0x01020304, true), std::string("\x01\x01\x02\x03\x04", 5));
  EXPECT_EQ(MessagePrefix(0xFFFFFFFF, false), std::string("\x00\xFF\xFF\xFF\xFF", 5));
}

TEST(FramingTest, FrameMessage) {
  EXPECT_EQ(FrameMessage("", false), std::string("\0\0\0\0\0", 5));
  EXPECT_EQ(FrameMessage("abc", false), std::string("\0\0\0\0\3abc", 8));
  EXPECT_EQ(FrameMessage("abc", true), std::string("\1\0\0\0\3abc", 8));
  const std::string big(300000, 'x');  // 0x000493E0
  const std::string framed = FrameMessage(big, true);
  EXPECT_EQ(framed.substr(0, 5), std::string("\x01\x00\x04\x93\xE0", 5));
  EXPECT_EQ(framed.substr(5), big);
}

TEST(MessageDeframerTest, SingleMessage) {
  MessageDeframer deframer;
  EXPECT_EQ(deframer.max_message_size(), 4u << 20);
  ASSERT_TRUE(deframer.Feed(FrameMessage("hello", false)).ok());
  EXPECT_FALSE(deframer.HasPartial());
  EXPECT_EQ(deframer.queued(), 1u);
  std::optional<Frame> frame = deframer.Next();
  ASSERT_TRUE(frame.has_value());
  EXPECT_FALSE(frame->compressed);
  EXPECT_EQ(frame->payload, "hello");
  EXPECT_FALSE(deframer.Next().has_value());
}

TEST(MessageDeframerTest, ManyMessagesPerFeedIncludingEmptyOnes) {
  MessageDeframer deframer;
  const std::string bytes = FrameMessage("", false) + FrameMessage("a", true) +
                            FrameMessage("", true) + FrameMessage("bcd", false) +
                            FrameMessage("", false);
  ASSERT_TRUE(deframer.Feed(bytes).ok());
  EXPECT_FALSE(deframer.HasPartial());
  const std::vector<Frame> expected = {
      {false, "", {}}, {true, "a", {}}, {true, "", {}}, {false, "bcd", {}}, {false, "", {}}};
  EXPECT_EQ(Drain(deframer), expected);
}

TEST(MessageDeframerTest, EmptyFeedIsNoOp) {
  MessageDeframer deframer;
  ASSERT_TRUE(deframer.Feed("").ok());
  EXPECT_FALSE(deframer.HasPartial());
  EXPECT_EQ(deframer.queued(), 0u);
}

TEST(MessageDeframerTest, PrefixSplitAtEveryOffset) {
  const std::string bytes = FrameMessage("payload", true);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    MessageDeframer deframer;
    ASSERT_TRUE(deframer.Feed(bytes.substr(0, cut)).ok());
    EXPECT_EQ(deframer.HasPartial(), cut > 0 && cut < bytes.size()) << cut;
    EXPECT_EQ(deframer.queued(), cut == bytes.size() ? 1u : 0u);
    ASSERT_TRUE(deframer.Feed(bytes.substr(cut)).ok());
    EXPECT_FALSE(deframer.HasPartial());
    const std::vector<Frame> expected = {{true, "payload", {}}};
    EXPECT_EQ(Drain(deframer), expected) << cut;
  }
}

TEST(MessageDeframerTest, HasPartialForZeroLengthMessage) {
  MessageDeframer deframer;
  ASSERT_TRUE(deframer.Feed(std::string("\0\0\0", 3)).ok());
  EXPECT_TRUE(deframer.HasPartial());
  ASSERT_TRUE(deframer.Feed(std::string("\0\0", 2)).ok());
  EXPECT_FALSE(deframer.HasPartial());
  EXPECT_EQ(deframer.queued(), 1u);
}

// Messages of assorted sizes (zero, tiny, > 64 KiB, around the 16 KiB DATA frame size), fed at
// once, byte by byte, and in random chunks: the same messages come out.
TEST(MessageDeframerTest, AnySplitGivesTheSameMessages) {
  std::mt19937 rng(42);
  std::vector<Frame> messages;
  std::string stream;
  for (const size_t size : {0, 1, 5, 0, 16379, 16384, 100, 70000, 0, 3}) {
    Frame frame{rng() % 2 == 0, std::string(size, '\0'), {}};
    for (char& c : frame.payload) c = static_cast<char>(rng());
    stream += FrameMessage(frame.payload, frame.compressed);
    messages.push_back(std::move(frame));
  }

  MessageDeframer at_once;
  ASSERT_TRUE(at_once.Feed(stream).ok());
  EXPECT_EQ(Drain(at_once), messages);

  MessageDeframer byte_by_byte;
  std::vector<Frame> got;
  for (const char c : stream) {
    ASSERT_TRUE(byte_by_byte.Feed(absl::string_view(&c, 1)).ok());
    for (Frame& f : Drain(byte_by_byte)) got.push_back(std::move(f));
  }
  EXPECT_FALSE(byte_by_byte.HasPartial());
  EXPECT_EQ(got, messages);

  for (int round = 0; round < 20; ++round) {
    MessageDeframer chunked;
    size_t offset = 0;
    while (offset < stream.size()) {
      const size_t n = std::min<size_t>(rng() % 20000, stream.size() - offset);
      ASSERT_TRUE(chunked.Feed(absl::string_view(stream).substr(offset, n)).ok());
      offset += n;
    }
    EXPECT_EQ(Drain(chunked), messages) << round;
  }
}

TEST(MessageDeframerTest, MaxSizeIsInclusive) {
  MessageDeframer deframer(3);
  ASSERT_TRUE(deframer.Feed(FrameMessage("abc", false)).ok());
  EXPECT_EQ(Drain(deframer).size(), 1u);
  const absl::Status status = deframer.Feed(FrameMessage("abcd", false));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "Received message larger than max (4 vs. 3)");
}

TEST(MessageDeframerTest, MaxSizeZeroAllowsEmptyMessages) {
  MessageDeframer deframer(0);
  ASSERT_TRUE(deframer.Feed(FrameMessage("", false)).ok());
  EXPECT_EQ(deframer.Feed(FrameMessage("a", false)).code(), absl::StatusCode::kResourceExhausted);
}

TEST(MessageDeframerTest, OversizeDetectedFromPrefixAloneAndSticky) {
  MessageDeframer deframer(10);
  // A good message, then a prefix declaring 11 bytes: no payload byte needed to fail.
  const std::string bytes = FrameMessage("ok", false) + MessagePrefix(11, false);
  const absl::Status status = deframer.Feed(bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "Received message larger than max (11 vs. 10)");
  // The message completed before the error is still there; later feeds keep failing.
  const std::vector<Frame> expected = {{false, "ok", {}}};
  EXPECT_EQ(Drain(deframer), expected);
  EXPECT_EQ(deframer.Feed(FrameMessage("x", false)), status);
  EXPECT_EQ(deframer.queued(), 0u);
}

TEST(MessageDeframerTest, MaxUint32LengthWithDefaultLimit) {
  MessageDeframer deframer;
  const absl::Status status = deframer.Feed(MessagePrefix(0xFFFFFFFF, true));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "Received message larger than max (4294967295 vs. 4194304)");
}

TEST(MessageDeframerTest, InvalidCompressedFlag) {
  for (const int flag : {2, 0x80, 0x81, 0xFF}) {
    MessageDeframer deframer;
    std::string bytes = FrameMessage("abc", false);
    bytes[0] = static_cast<char>(flag);
    const absl::Status status = deframer.Feed(bytes);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << flag;
    EXPECT_EQ(deframer.queued(), 0u);
    EXPECT_EQ(deframer.Feed(FrameMessage("abc", false)), status);
  }
}

TEST(MessageDeframerTest, FlagCheckedWhenPrefixCompletes) {
  MessageDeframer deframer;
  ASSERT_TRUE(deframer.Feed("\x02").ok());  // cannot tell yet: only 1 of 5 prefix bytes
  EXPECT_EQ(deframer.Feed(std::string("\0\0\0\1", 4)).code(), absl::StatusCode::kInternal);
}

// A peer declaring 1 GB and sending 10 bytes must cost about 10 bytes, not 1 GB
// (grpc/grpc-go#1455).
TEST(MessageDeframerTest, DeclaredLengthIsNotPreallocated) {
  MessageDeframer deframer(SIZE_MAX);
  const std::string bytes = MessagePrefix(1u << 30, false) + std::string(10, 'x');
  const PeakHeap heap;
  ASSERT_TRUE(deframer.Feed(bytes).ok());
  EXPECT_TRUE(deframer.HasPartial());
  EXPECT_EQ(deframer.queued(), 0u);
  EXPECT_LT(heap.Growth(), 4096);

  // Growth follows what arrives: 1 MiB more costs about 1-2 MiB, never the declared 1 GB.
  const std::string chunk(16384, 'y');
  const PeakHeap more;
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(deframer.Feed(chunk).ok());
  EXPECT_LT(more.Growth(), 3 << 20);
  EXPECT_TRUE(deframer.HasPartial());
}

// With a preallocation bound (the stream window), a message's buffer is allocated once for its
// declared length, and a lying prefix costs at most the bound.
TEST(MessageDeframerTest, PreallocatesUpToTheBound) {
  MessageDeframer deframer(SIZE_MAX, 1 << 20);
  const std::string payload(65536, 'p');
  const std::string bytes = FrameMessage(payload, false);
  ASSERT_TRUE(deframer.Feed(absl::string_view(bytes).substr(0, 16384)).ok());
  const PeakHeap heap;  // the rest fits in what the prefix reserved: no growth
  for (size_t offset = 16384; offset < bytes.size(); offset += 16384) {
    ASSERT_TRUE(deframer.Feed(absl::string_view(bytes).substr(offset, 16384)).ok());
  }
  EXPECT_LT(heap.Growth(), 4096);
  std::optional<Frame> frame = deframer.Next();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->payload, payload);

  MessageDeframer liar(SIZE_MAX, 1 << 20);
  const PeakHeap lie;
  ASSERT_TRUE(liar.Feed(MessagePrefix(1u << 30, false) + std::string(10, 'x')).ok());
  EXPECT_LT(lie.Growth(), (1 << 20) + 4096);
}

// Fed SharedBuffers, the deframer keeps slices of them: no payload byte is copied.
TEST(MessageDeframerTest, OwnedChunksBecomeSlicesNotCopies) {
  const std::string big(40000, 'b');
  const std::string wire = FrameMessage(big, false) + FrameMessage("hi", false) +
                           FrameMessage("", false) + FrameMessage("there", false);
  std::vector<transport::SharedBuffer> chunks;
  for (size_t offset = 0; offset < wire.size(); offset += 16384) {
    chunks.emplace_back(wire.substr(offset, 16384));
  }
  MessageDeframer deframer;
  for (const auto& c : chunks) ASSERT_TRUE(deframer.Feed(c).ok());
  std::vector<std::string> got;
  while (std::optional<Frame> f = deframer.Next()) {
    EXPECT_TRUE(f->payload.empty());
    for (const transport::SharedBuffer& piece : f->pieces) {
      bool inside = false;
      for (const auto& c : chunks) {
        inside |= piece.data() >= c.data() && piece.data() + piece.size() <= c.data() + c.size();
      }
      EXPECT_TRUE(inside);
    }
    got.push_back(std::move(*f).Assembled());
  }
  EXPECT_EQ(got, (std::vector<std::string>{big, "hi", "", "there"}));
  EXPECT_FALSE(deframer.HasPartial());
}

// A 64 KiB message in 16 KiB DATA frames is five slices: their vector is sized once from the
// first chunk (it used to grow 1, 2, 4, 8: four allocations per message). (The room reserved
// is at most 16 slices, whatever length the prefix declares.)
TEST(MessageDeframerTest, SlicesOfAMessageAreCountedFromItsFirstChunk) {
  const std::string wire = FrameMessage(std::string(65536, 'p'), false);
  MessageDeframer deframer;
  for (size_t offset = 0; offset < wire.size(); offset += 16384) {
    ASSERT_TRUE(deframer.Feed(transport::SharedBuffer(wire.substr(offset, 16384))).ok());
  }
  std::optional<Frame> f = deframer.Next();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->pieces.size(), 5u);
  EXPECT_EQ(f->pieces.capacity(), 5u);
  EXPECT_EQ(std::move(*f).Assembled(), std::string(65536, 'p'));
}

TEST(MessageDeframerTest, LargeMessageAtTheLimit) {
  MessageDeframer deframer;  // 4 MiB
  const std::string payload(4 << 20, 'z');
  const std::string bytes = FrameMessage(payload, false);
  for (size_t offset = 0; offset < bytes.size(); offset += 16384) {
    ASSERT_TRUE(deframer.Feed(absl::string_view(bytes).substr(offset, 16384)).ok());
  }
  std::optional<Frame> frame = deframer.Next();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->payload, payload);
}


// --- parse-ahead bound (set_max_ready): what calls use --------------------------------------

// Every split of `wire` into chunks of `step` bytes, fed as SharedBuffers with max_ready 1,
// taking one message after each feed as a slow reader would, then draining.
std::vector<std::string> FeedBoundedAndDrain(const std::string& wire, size_t step,
                                             MessageDeframer* deframer, bool owned) {
  std::vector<std::string> got;
  for (size_t offset = 0; offset < wire.size(); offset += step) {
    const std::string piece = wire.substr(offset, step);
    absl::Status st = owned ? deframer->Feed(transport::SharedBuffer(piece))
                            : deframer->Feed(absl::string_view(piece));
    EXPECT_TRUE(st.ok()) << st;
    EXPECT_LE(deframer->queued(), 1u);
    if (std::optional<Frame> f = deframer->Next()) got.push_back(std::move(*f).Assembled());
  }
  while (std::optional<Frame> f = deframer->Next()) got.push_back(std::move(*f).Assembled());
  return got;
}

TEST(MessageDeframerTest, ParseAheadBoundKeepsTheRestUnparsedAndCounted) {
  std::string wire;
  for (int i = 0; i < 10000; ++i) wire += FrameMessage(i % 3 ? "" : "xy", false);
  for (bool owned : {true, false}) {
    MessageDeframer deframer;
    deframer.set_max_ready(1);
    ASSERT_TRUE(owned ? deframer.Feed(transport::SharedBuffer(wire)).ok()
                      : deframer.Feed(wire).ok());
    // One message made, the rest held as the bytes they are: no Frame per message.
    EXPECT_EQ(deframer.queued(), 1u);
    EXPECT_EQ(deframer.buffered_bytes(), wire.size() - kMessagePrefixSize);
    EXPECT_FALSE(deframer.HasPartial());
    int n = 0;
    while (std::optional<Frame> f = deframer.Next()) {
      EXPECT_EQ(std::move(*f).Assembled(), n % 3 ? "" : "xy") << n;
      EXPECT_LE(deframer.queued(), 1u);
      ++n;
    }
    EXPECT_EQ(n, 10000);
    EXPECT_EQ(deframer.buffered_bytes(), 0u);
    EXPECT_TRUE(deframer.status().ok());
  }
}

TEST(MessageDeframerTest, ParseAheadBoundGivesTheSameMessagesForAnySplit) {
  const std::string big(20000, 'q');
  const std::string wire = FrameMessage("a", false) + FrameMessage(big, true) +
                           FrameMessage("", false) + FrameMessage("bc", false) +
                           FrameMessage(big, false) + FrameMessage("", true);
  const std::vector<std::string> expected = {"a", big, "", "bc", big, ""};
  for (size_t step : {1, 2, 5, 6, 7, 4096, 16384, 100000}) {
    for (bool owned : {true, false}) {
      MessageDeframer deframer;
      deframer.set_max_ready(1);
      EXPECT_EQ(FeedBoundedAndDrain(wire, step, &deframer, owned), expected)
          << "step " << step << " owned " << owned;
      EXPECT_FALSE(deframer.HasPartial());
    }
  }
}

TEST(MessageDeframerTest, ParseAheadBoundFindsErrorsWhenItGetsToThem) {
  const std::string wire = FrameMessage("ok", false) + FrameMessage("fine", false) +
                           std::string("\x07\0\0\0\0", 5) + FrameMessage("lost", false);
  MessageDeframer deframer;
  deframer.set_max_ready(1);
  ASSERT_TRUE(deframer.Feed(wire).ok());  // the bad prefix is not parsed yet
  ASSERT_EQ(deframer.Next()->payload, "ok");
  ASSERT_EQ(deframer.Next()->payload, "fine");  // parsing on past it finds the bad flag
  EXPECT_FALSE(deframer.Next().has_value());
  EXPECT_EQ(deframer.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(deframer.buffered_bytes(), 0u);  // what followed is dropped
  EXPECT_EQ(deframer.Feed("more").code(), absl::StatusCode::kInternal);  // sticky
}

TEST(MessageDeframerTest, HasPartialLooksThroughTheUnparsedBytes) {
  const std::string two = FrameMessage("one", false) + FrameMessage("two", false);
  for (size_t cut = 0; cut <= two.size(); ++cut) {
    MessageDeframer deframer;
    deframer.set_max_ready(1);
    ASSERT_TRUE(deframer.Feed(FrameMessage("first", false) + two.substr(0, cut)).ok());
    const bool boundary = cut == 0 || cut == two.size() / 2 || cut == two.size();
    EXPECT_EQ(deframer.HasPartial(), !boundary) << cut;
  }
  MessageDeframer deframer;
  deframer.set_max_ready(1);
  ASSERT_TRUE(deframer.Feed(FrameMessage("first", false) + std::string("\0\0\0\0\0", 5)).ok());
  EXPECT_FALSE(deframer.HasPartial());  // an empty message is complete at its prefix
}

// The bound in memory: 1 MiB of empty messages costs about 1 MiB, not a Frame per message.
TEST(MessageDeframerTest, ParseAheadBoundHoldsTinyMessagesAsBytes) {
  std::string wire;
  for (int i = 0; i < (1 << 20) / 5; ++i) wire += FrameMessage("", false);
  transport::SharedBuffer chunk(std::move(wire));
  PeakHeap peak;
  MessageDeframer deframer;
  deframer.set_max_ready(1);
  ASSERT_TRUE(deframer.Feed(chunk).ok());
  EXPECT_LT(peak.Growth(), 64 * 1024);
}

}  // namespace
}  // namespace h2rpc::rpc
