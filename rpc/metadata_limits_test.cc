#include "rpc/metadata_limits.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace h2rpc::rpc {
namespace {

TEST(MetadataLimitsTest, DefaultsAreGrpcs) {
  MetadataSizeLimits l = ResolveMetadataSizeLimits({});
  EXPECT_EQ(l.soft, 8192u);
  EXPECT_EQ(l.hard, 16384u);
}

TEST(MetadataLimitsTest, OneLimitSetDerivesTheOtherAsGrpcDoes) {
  // Only soft: hard = max(1.25 x soft, 16 KiB).
  EXPECT_EQ(ResolveMetadataSizeLimits({.max_metadata_size = 4096}).hard, 16384u);
  MetadataSizeLimits big = ResolveMetadataSizeLimits({.max_metadata_size = 64 * 1024});
  EXPECT_EQ(big.soft, 65536u);
  EXPECT_EQ(big.hard, 81920u);
  // Only hard: soft = max(8 KiB, 0.8 x hard).
  MetadataSizeLimits h = ResolveMetadataSizeLimits({.absolute_max_metadata_size = 100000});
  EXPECT_EQ(h.soft, 80000u);
  EXPECT_EQ(h.hard, 100000u);
  // A hard limit below the default soft one: the soft one comes down to it.
  MetadataSizeLimits small = ResolveMetadataSizeLimits({.absolute_max_metadata_size = 1000});
  EXPECT_EQ(small.soft, 1000u);
  EXPECT_EQ(small.hard, 1000u);
  MetadataSizeLimits both =
      ResolveMetadataSizeLimits({.max_metadata_size = 100, .absolute_max_metadata_size = 200});
  EXPECT_EQ(both.soft, 100u);
  EXPECT_EQ(both.hard, 200u);
}

TEST(MetadataLimitsTest, HeaderListSizeIsNameValueAnd32PerField) {
  struct Field {
    std::string name, value;
  };
  std::vector<Field> fields = {{":path", "/a"}, {"x", ""}};
  EXPECT_EQ(HeaderListSize(fields), (5 + 2 + 32) + (1 + 0 + 32));
}

TEST(MetadataLimitsTest, AtOrUnderTheSoftLimitAlwaysPasses) {
  const MetadataSizeLimits l{.soft = 1000, .hard = 2000};
  EXPECT_TRUE(CheckMetadataSize(1000, l, 0.0).ok());
  EXPECT_TRUE(CheckMetadataSize(0, l, 0.0).ok());
}

TEST(MetadataLimitsTest, BetweenTheLimitsRejectionRisesLinearly) {
  const MetadataSizeLimits l{.soft = 1000, .hard = 2000};
  // 1001 bytes: rejected with probability 1/1000.
  EXPECT_EQ(CheckMetadataSize(1001, l, 0.0).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(CheckMetadataSize(1001, l, 0.001).ok());
  // Half way: rejected with probability 1/2.
  EXPECT_EQ(CheckMetadataSize(1500, l, 0.4999).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(CheckMetadataSize(1500, l, 0.5).ok());
  // At the hard limit: always rejected (a draw is < 1).
  absl::Status at_hard = CheckMetadataSize(2000, l, 0.999999);
  EXPECT_EQ(at_hard.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(at_hard.message(),
            "received metadata size exceeds soft limit (2000 vs. 1000), rejecting requests with "
            "some random probability");
}

TEST(MetadataLimitsTest, OverTheHardLimitAlwaysFails) {
  const MetadataSizeLimits l{.soft = 1000, .hard = 2000};
  absl::Status st = CheckMetadataSize(2001, l, 0.999999);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "received metadata size exceeds hard limit (2001 vs. 2000)");
  // Equal limits: no random band.
  const MetadataSizeLimits flat{.soft = 500, .hard = 500};
  EXPECT_TRUE(CheckMetadataSize(500, flat, 0.0).ok());
  EXPECT_EQ(CheckMetadataSize(501, flat, 0.999).code(), absl::StatusCode::kResourceExhausted);
}

TEST(MetadataLimitsTest, WithItsOwnDrawsTheBandIsRandom) {
  const MetadataSizeLimits l{.soft = 1000, .hard = 2000};
  EXPECT_TRUE(CheckMetadataSize(1000, l).ok());
  EXPECT_EQ(CheckMetadataSize(2001, l).code(), absl::StatusCode::kResourceExhausted);
  // Half way: 200 calls all alike would happen with probability 2^-199.
  int rejected = 0;
  for (int i = 0; i < 200; ++i) rejected += CheckMetadataSize(1500, l).ok() ? 0 : 1;
  EXPECT_GT(rejected, 0);
  EXPECT_LT(rejected, 200);
}

TEST(MetadataLimitsTest, RandomDrawIsInTheUnitIntervalAndVaries) {
  double lo = 1, hi = 0;
  for (int i = 0; i < 1000; ++i) {
    const double d = RandomDraw();
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  // 1000 uniform draws all within [0.1, 0.9] has probability 0.8^1000.
  EXPECT_LT(lo, 0.1);
  EXPECT_GT(hi, 0.9);
}

TEST(MetadataLimitsTest, MaxFieldsWithinBoundsTheFieldCount) {
  const MetadataSizeLimits l{.soft = 8192, .hard = 16384};
  // The smallest field is 33 bytes (a one-byte name, an empty value).
  EXPECT_GE(MaxFieldsWithin(l) * 33, 16384u);
  EXPECT_GT(MaxFieldsWithin(l), 128u);
}

}  // namespace
}  // namespace h2rpc::rpc
