// Compares http2StreamError/http2SessionError with the errors a real Node client reports when a
// Node server resets a stream or ends the session with each code (testdata/errors_oracle.js).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "transport/errors.h"
#include "transport/node_oracle.h"

namespace h2rpc::transport {
namespace {

TEST(ErrorsNodeOracleTest, StreamAndSessionErrorsMatchNode) {
  // Named codes, the codes Node does not report (0, and CANCEL for streams), unnamed ones.
  const std::vector<uint32_t> codes = {0, 1, 2, 5, 7, 8, 11, 12, 13, 14, 153, 0xffffffff};
  std::vector<std::string> args;
  for (uint32_t code : codes) args.push_back(absl::StrCat(code));
  absl::StatusOr<std::string> output =
      testing::runNodeScript("transport/testdata/errors_oracle.js", args);
  ASSERT_TRUE(output.ok()) << output.status();
  std::vector<std::string> lines = testing::splitLines(*output);
  ASSERT_EQ(lines.size(), 2 * codes.size()) << *output;

  int compared = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string> f = testing::splitTabs(lines[i]);
    ASSERT_EQ(f.size(), 4u) << lines[i];
    const uint32_t code = codes[i / 2];
    ASSERT_EQ(f[1], absl::StrCat(code));
    if (f[2] == "none") continue;  // Node emits no error; the session layer must not either
    absl::Status ours = f[0] == "stream" ? http2StreamError(code) : http2SessionError(code);
    EXPECT_EQ(nodeErrorCode(ours), f[2]) << lines[i];
    EXPECT_EQ(nodeErrorMessage(ours), f[3]) << lines[i];
    ++compared;
  }
  // Node reports no error for a NO_ERROR reset or goaway, nor for a CANCEL reset.
  EXPECT_EQ(lines[0], "stream\t0\tnone\t");
  EXPECT_EQ(lines[1], "session\t0\tnone\t");
  EXPECT_EQ(lines[10], "stream\t8\tnone\t");
  EXPECT_EQ(compared, static_cast<int>(2 * codes.size()) - 3);
}

}  // namespace
}  // namespace h2rpc::transport
