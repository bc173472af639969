// errors.h: Node's code travels as payload and message prefix; stream and session errors carry
// Node's messages (errors_node_oracle_test checks them against Node) and the documented absl codes.
#include "transport/errors.h"

#include "gtest/gtest.h"
#include "transport/constants.h"

namespace h2rpc::transport {
namespace {

TEST(ErrorsTest, NodeErrorHasCodePrefixAndPayload) {
  absl::Status s = nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_HEADERS_SENT",
                             "Response has already been initiated.");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "ERR_HTTP2_HEADERS_SENT: Response has already been initiated.");
  EXPECT_EQ(nodeErrorCode(s), "ERR_HTTP2_HEADERS_SENT");
  EXPECT_EQ(nodeErrorMessage(s), "Response has already been initiated.");
  absl::optional<absl::Cord> payload = s.GetPayload("h2rpc/node-code");
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(std::string(*payload), "ERR_HTTP2_HEADERS_SENT");
}

TEST(ErrorsTest, PlainStatusesHaveNoNodeCode) {
  EXPECT_EQ(nodeErrorCode(absl::OkStatus()), "");
  absl::Status plain = absl::InternalError("ERR_FAKE: not from nodeError");
  EXPECT_EQ(nodeErrorCode(plain), "");
  EXPECT_EQ(nodeErrorMessage(plain), "ERR_FAKE: not from nodeError");
}

TEST(ErrorsTest, CodeSurvivesCopiesAndAnnotations) {
  absl::Status s = nodeError(absl::StatusCode::kInvalidArgument, "ERR_X", "m");
  absl::Status copy = s;
  EXPECT_EQ(nodeErrorCode(copy), "ERR_X");
  EXPECT_EQ(copy, s);
}

TEST(ErrorsTest, ErrorCodeNamesAreTheSpecsTable) {
  const char* names[] = {"NGHTTP2_NO_ERROR",
                         "NGHTTP2_PROTOCOL_ERROR",
                         "NGHTTP2_INTERNAL_ERROR",
                         "NGHTTP2_FLOW_CONTROL_ERROR",
                         "NGHTTP2_SETTINGS_TIMEOUT",
                         "NGHTTP2_STREAM_CLOSED",
                         "NGHTTP2_FRAME_SIZE_ERROR",
                         "NGHTTP2_REFUSED_STREAM",
                         "NGHTTP2_CANCEL",
                         "NGHTTP2_COMPRESSION_ERROR",
                         "NGHTTP2_CONNECT_ERROR",
                         "NGHTTP2_ENHANCE_YOUR_CALM",
                         "NGHTTP2_INADEQUATE_SECURITY",
                         "NGHTTP2_HTTP_1_1_REQUIRED"};
  for (uint32_t code = 0; code < 14; ++code) EXPECT_EQ(errorCodeName(code), names[code]);
  EXPECT_EQ(errorCodeName(14), "UNKNOWN");
  EXPECT_EQ(errorCodeName(0xffffffff), "UNKNOWN");
  static_assert(errorCodeName(constants::NGHTTP2_CANCEL) == "NGHTTP2_CANCEL");
}

TEST(ErrorsTest, StreamErrorNamesKnownCodesAndPrintsOthers) {
  absl::Status s = http2StreamError(constants::NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(nodeErrorCode(s), "ERR_HTTP2_STREAM_ERROR");
  EXPECT_EQ(nodeErrorMessage(s), "Stream closed with error code NGHTTP2_PROTOCOL_ERROR");
  EXPECT_EQ(nodeErrorMessage(http2StreamError(153)), "Stream closed with error code 153");
}

TEST(ErrorsTest, SessionErrorPrintsTheNumber) {
  absl::Status s = http2SessionError(constants::NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(nodeErrorCode(s), "ERR_HTTP2_SESSION_ERROR");
  EXPECT_EQ(nodeErrorMessage(s), "Session closed with error code 1");
}

TEST(ErrorsTest, AbslCodesFollowGrpcsMapping) {
  namespace c = constants;
  EXPECT_EQ(http2StreamError(c::NGHTTP2_REFUSED_STREAM).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(http2StreamError(c::NGHTTP2_CANCEL).code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(http2SessionError(c::NGHTTP2_ENHANCE_YOUR_CALM).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(http2StreamError(c::NGHTTP2_INADEQUATE_SECURITY).code(),
            absl::StatusCode::kPermissionDenied);
  for (uint32_t code : {c::NGHTTP2_NO_ERROR, c::NGHTTP2_PROTOCOL_ERROR, c::NGHTTP2_INTERNAL_ERROR,
                        c::NGHTTP2_FLOW_CONTROL_ERROR, c::NGHTTP2_HTTP_1_1_REQUIRED, 153u}) {
    EXPECT_EQ(statusCodeForHttp2Error(code), absl::StatusCode::kInternal) << code;
  }
}

}  // namespace
}  // namespace h2rpc::transport
