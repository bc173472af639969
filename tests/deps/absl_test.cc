// Abseil links: Status/StatusOr carry codes and messages and format as the transport will print them.
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace {

absl::StatusOr<int> ParsePort(int value) {
  if (value <= 0 || value > 65535) {
    return absl::InvalidArgumentError(absl::StrFormat("port %d out of range", value));
  }
  return value;
}

TEST(AbslTest, StatusFormatsCodeAndMessage) {
  absl::Status status = absl::UnavailableError("connection refused");
  EXPECT_EQ(status.ToString(), "UNAVAILABLE: connection refused");
  EXPECT_EQ(absl::StrCat("error: ", status.message()), "error: connection refused");
}

TEST(AbslTest, StatusOrCarriesValueOrError) {
  ASSERT_TRUE(ParsePort(443).ok());
  EXPECT_EQ(*ParsePort(443), 443);
  absl::StatusOr<int> bad = ParsePort(70000);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "port 70000 out of range");
}

}  // namespace
