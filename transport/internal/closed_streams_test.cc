#include "transport/internal/closed_streams.h"

#include "gtest/gtest.h"

namespace h2rpc::transport::internal {
namespace {

using How = ClosedStreams::How;

constexpr uint32_t kNoError = 0, kCancel = 8, kRefusedStream = 7;

TEST(ClosedStreamsTest, RecordsHowTheStreamClosed) {
  ClosedStreams c;
  c.closed(1, kNoError);  // both sides ended it
  c.peerReset(3);
  c.closed(3, kCancel);
  c.localReset(5);
  c.closed(5, kCancel);  // we reset it: not recorded
  c.localReset(7);
  c.closed(7, kNoError);  // RST_STREAM(NO_ERROR) from us after our response: not recorded
  c.closed(9, kRefusedStream);  // refused by a GOAWAY, no RST_STREAM: not recorded
  c.peerReset(11);
  c.closed(11, kNoError);  // the peer's RST_STREAM(NO_ERROR)
  EXPECT_EQ(c.find(1), How::kPeerEnded);
  EXPECT_EQ(c.find(3), How::kPeerReset);
  EXPECT_EQ(c.find(5), How::kUnknown);
  EXPECT_EQ(c.find(7), How::kUnknown);
  EXPECT_EQ(c.find(9), How::kUnknown);
  EXPECT_EQ(c.find(11), How::kPeerReset);
  EXPECT_EQ(c.find(13), How::kUnknown);
  EXPECT_EQ(c.size(), 3u);
}

TEST(ClosedStreamsTest, AResetAppliesOnlyToItsOwnStream) {
  ClosedStreams c;
  c.peerReset(9);  // RST_STREAM on a stream that was not open: no close follows for it
  c.closed(11, kNoError);
  EXPECT_EQ(c.find(11), How::kPeerEnded);
  c.closed(9, kCancel);  // the pending reset was dropped by the close of 11
  EXPECT_EQ(c.find(9), How::kUnknown);
  c.localReset(13);  // our RST_STREAM on a forgotten stream
  c.closed(15, kNoError);
  EXPECT_EQ(c.find(15), How::kPeerEnded);
}

TEST(ClosedStreamsTest, HighStreamIdsKeepTheirKind) {
  ClosedStreams c;
  constexpr int32_t kMaxId = 0x7fffffff;
  c.peerReset(kMaxId);
  c.closed(kMaxId, kCancel);
  c.closed(kMaxId - 2, kNoError);
  EXPECT_EQ(c.find(kMaxId), How::kPeerReset);
  EXPECT_EQ(c.find(kMaxId - 2), How::kPeerEnded);
}

TEST(ClosedStreamsTest, ForgetsTheOldestBeyondItsCapacity) {
  ClosedStreams c;
  const int32_t n = static_cast<int32_t>(ClosedStreams::kCapacity);
  for (int32_t i = 0; i < n + 10; ++i) c.closed(2 * i + 1, kNoError);
  EXPECT_EQ(c.size(), ClosedStreams::kCapacity);
  for (int32_t i = 0; i < 10; ++i) EXPECT_EQ(c.find(2 * i + 1), How::kUnknown) << i;
  for (int32_t i = 10; i < n + 10; ++i) ASSERT_EQ(c.find(2 * i + 1), How::kPeerEnded) << i;
  // Keeps going round the ring.
  for (int32_t i = n + 10; i < 3 * n; ++i) {
    if (i % 2) c.localReset(2 * i + 1);
    c.closed(2 * i + 1, kNoError);
  }
  EXPECT_EQ(c.size(), ClosedStreams::kCapacity);
  EXPECT_EQ(c.find(2 * (2 * n) + 1), How::kPeerEnded);
  EXPECT_EQ(c.find(2 * (2 * n - 1) + 1), How::kUnknown);
}

TEST(ClosedStreamsTest, StreamsClosingOutOfOrderAreFoundAndNewIdsAreNot) {
  // find() stops early for ids above every recorded one (new streams); streams close in any
  // order, so a lower id recorded after a higher one must still be found.
  ClosedStreams c;
  c.peerReset(9);
  c.closed(9, kCancel);
  c.closed(3, kNoError);
  c.closed(7, kNoError);
  EXPECT_EQ(c.find(9), How::kPeerReset);
  EXPECT_EQ(c.find(3), How::kPeerEnded);
  EXPECT_EQ(c.find(7), How::kPeerEnded);
  EXPECT_EQ(c.find(5), How::kUnknown);
  EXPECT_EQ(c.find(11), How::kUnknown);
  EXPECT_EQ(c.find(0), How::kUnknown);
}

}  // namespace
}  // namespace h2rpc::transport::internal
