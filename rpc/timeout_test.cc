#include "rpc/timeout.h"

#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace h2rpc::rpc {
namespace {

using ::testing::HasSubstr;

TEST(EncodeGrpcTimeoutTest, FinestUnitThatFits) {
  EXPECT_EQ(EncodeGrpcTimeout(absl::Nanoseconds(1)), "1n");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Nanoseconds(99999999)), "99999999n");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Nanoseconds(100000000)), "100000u");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Seconds(1)), "1000000u");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Microseconds(99999999)), "99999999u");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Seconds(100)), "100000m");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Milliseconds(99999999)), "99999999m");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Milliseconds(100000000)), "100000S");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Seconds(99999999)), "99999999S");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Seconds(100000000)), "1666667M");  // rounded up
  EXPECT_EQ(EncodeGrpcTimeout(absl::Minutes(99999999)), "99999999M");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Minutes(100000020)), "1666667H");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Hours(99999999)), "99999999H");
}

TEST(EncodeGrpcTimeoutTest, RoundsUp) {
  // 100000000.5 us does not fit in 8 digits of u, so m: 100000.0005 ms -> 100001m.
  EXPECT_EQ(EncodeGrpcTimeout(absl::Nanoseconds(100000000500)), "100001m");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Nanoseconds(100000001)), "100001u");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Nanoseconds(1) / 4), "1n");  // sub-nanosecond
  EXPECT_EQ(EncodeGrpcTimeout(absl::Seconds(99999999) + absl::Nanoseconds(1)), "1666667M");
}

TEST(EncodeGrpcTimeoutTest, NonPositiveAndHuge) {
  EXPECT_EQ(EncodeGrpcTimeout(absl::ZeroDuration()), "0n");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Nanoseconds(-1)), "0n");
  EXPECT_EQ(EncodeGrpcTimeout(-absl::InfiniteDuration()), "0n");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Hours(99999999) + absl::Nanoseconds(1)), "99999999H");
  EXPECT_EQ(EncodeGrpcTimeout(absl::Hours(1e12)), "99999999H");
  EXPECT_EQ(EncodeGrpcTimeout(absl::InfiniteDuration()), "99999999H");
}

TEST(EncodeGrpcTimeoutTest, NeverShorterAndAlwaysDecodable) {
  for (int64_t ns = 1; ns < (int64_t{1} << 61); ns = ns * 3 + 7) {
    const absl::Duration d = absl::Nanoseconds(ns);
    const std::string encoded = EncodeGrpcTimeout(d);
    ASSERT_LE(encoded.size(), 9u) << encoded;
    const absl::StatusOr<absl::Duration> decoded = DecodeGrpcTimeout(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded << ": " << decoded.status();
    EXPECT_GE(*decoded, d) << encoded;
  }
}

TEST(DecodeGrpcTimeoutTest, Units) {
  EXPECT_EQ(DecodeGrpcTimeout("1n").value(), absl::Nanoseconds(1));
  EXPECT_EQ(DecodeGrpcTimeout("1u").value(), absl::Microseconds(1));
  EXPECT_EQ(DecodeGrpcTimeout("1m").value(), absl::Milliseconds(1));
  EXPECT_EQ(DecodeGrpcTimeout("1S").value(), absl::Seconds(1));
  EXPECT_EQ(DecodeGrpcTimeout("1M").value(), absl::Minutes(1));
  EXPECT_EQ(DecodeGrpcTimeout("1H").value(), absl::Hours(1));
  EXPECT_EQ(DecodeGrpcTimeout("0n").value(), absl::ZeroDuration());
  EXPECT_EQ(DecodeGrpcTimeout("00000000S").value(), absl::ZeroDuration());
  EXPECT_EQ(DecodeGrpcTimeout("100000000m").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(DecodeGrpcTimeout("99999999m").value(), absl::Milliseconds(99999999));
  EXPECT_EQ(DecodeGrpcTimeout("00000001S").value(), absl::Seconds(1));
}

TEST(DecodeGrpcTimeoutTest, ClampsToInt64Nanoseconds) {
  EXPECT_EQ(DecodeGrpcTimeout("99999999H").value(), kMaxGrpcTimeout);
  EXPECT_EQ(DecodeGrpcTimeout("2562047H").value(), absl::Hours(2562047));  // just fits
  EXPECT_EQ(DecodeGrpcTimeout("2562048H").value(), kMaxGrpcTimeout);
  EXPECT_EQ(DecodeGrpcTimeout("99999999M").value(), absl::Minutes(99999999));  // ~190 years
  EXPECT_EQ(DecodeGrpcTimeout("99999999S").value(), absl::Seconds(99999999));
  EXPECT_EQ(absl::ToInt64Nanoseconds(kMaxGrpcTimeout), INT64_MAX);
}

TEST(DecodeGrpcTimeoutTest, Malformed) {
  for (const char* value : {"", "1", "S", "n", "123456789S", "1x", "1s", "1h", "-1S", "+1S", " 1S",
                            "1S ", "1 S", "1.5S", "0x1S", "1SS", "１S", "1\0S"}) {
    const absl::StatusOr<absl::Duration> decoded = DecodeGrpcTimeout(value);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInternal) << value;
    EXPECT_THAT(decoded.status().message(), HasSubstr("malformed grpc-timeout")) << value;
  }
  EXPECT_EQ(DecodeGrpcTimeout(absl::string_view("1\0S", 3)).status().code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace h2rpc::rpc
