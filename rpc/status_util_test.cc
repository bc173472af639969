#include "rpc/status_util.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace h2rpc::rpc {
namespace {

using ::testing::HasSubstr;

// The interop special_status_message case (doc/interop-test-descriptions.md).
constexpr absl::string_view kSpecialMessage =
    "\t\ntest with whitespace\r\nand Unicode BMP \xE2\x98\xBA and non-BMP \xF0\x9F\x98\x88\t\n";

TEST(PercentEncodeTest, SpecialStatusMessage) {
  const std::string encoded = PercentEncodeGrpcMessage(kSpecialMessage);
  EXPECT_EQ(encoded,
            "%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP "
            "%F0%9F%98%88%09%0A");
  EXPECT_EQ(PercentDecodeGrpcMessage(encoded), kSpecialMessage);
}

TEST(PercentEncodeTest, PrintableAsciiUnchangedExceptPercent) {
  std::string printable;
  for (char c = 0x20; c <= 0x7E; ++c) printable.push_back(c);
  std::string expected = printable;
  expected.replace(expected.find('%'), 1, "%25");
  EXPECT_EQ(PercentEncodeGrpcMessage(printable), expected);
  EXPECT_EQ(PercentDecodeGrpcMessage(expected), printable);
}

TEST(PercentEncodeTest, EveryByteRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string encoded = PercentEncodeGrpcMessage(all);
  for (const char c : encoded) {
    EXPECT_TRUE(c >= 0x20 && c <= 0x7E) << static_cast<int>(c);
  }
  EXPECT_THAT(encoded, HasSubstr("%00%01"));
  EXPECT_THAT(encoded, HasSubstr("%7F%80"));
  EXPECT_THAT(encoded, HasSubstr("%FE%FF"));
  EXPECT_EQ(PercentDecodeGrpcMessage(encoded), all);
}

TEST(PercentEncodeTest, Empty) {
  EXPECT_EQ(PercentEncodeGrpcMessage(""), "");
  EXPECT_EQ(PercentDecodeGrpcMessage(""), "");
}

TEST(PercentDecodeTest, BadEscapesKeptRaw) {
  EXPECT_EQ(PercentDecodeGrpcMessage("%"), "%");
  EXPECT_EQ(PercentDecodeGrpcMessage("%4"), "%4");
  EXPECT_EQ(PercentDecodeGrpcMessage("a%"), "a%");
  EXPECT_EQ(PercentDecodeGrpcMessage("%G1"), "%G1");
  EXPECT_EQ(PercentDecodeGrpcMessage("%1G"), "%1G");
  EXPECT_EQ(PercentDecodeGrpcMessage("100%"), "100%");
  EXPECT_EQ(PercentDecodeGrpcMessage("%%41"), "%A");  // the first '%' is raw, then %41
  EXPECT_EQ(PercentDecodeGrpcMessage("%zz%41%"), "%zzA%");
}

TEST(PercentDecodeTest, LowerCaseHexAndRawNonAscii) {
  EXPECT_EQ(PercentDecodeGrpcMessage("%e2%98%ba"), "\xE2\x98\xBA");
  // A sender that did not encode (grpc-js passes some bytes through) still decodes.
  EXPECT_EQ(PercentDecodeGrpcMessage("caf\xC3\xA9 %41"), "caf\xC3\xA9 A");
  EXPECT_EQ(PercentDecodeGrpcMessage(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(StatusCodeFromGrpcStatusTest, ValidCodes) {
  for (int code = 0; code <= 16; ++code) {
    EXPECT_EQ(StatusCodeFromGrpcStatus(std::to_string(code)), static_cast<absl::StatusCode>(code));
  }
  EXPECT_EQ(StatusCodeFromGrpcStatus("00"), absl::StatusCode::kOk);
  EXPECT_EQ(StatusCodeFromGrpcStatus("012"), absl::StatusCode::kUnimplemented);
}

TEST(StatusCodeFromGrpcStatusTest, InvalidIsUnknown) {
  for (const char* value : {"", "17", "100", "-1", "+1", " 1", "1 ", "1a", "a", "0x1", "4294967296",
                            "99999999999999999999999", "1.0", "\xFF"}) {
    EXPECT_EQ(StatusCodeFromGrpcStatus(value), absl::StatusCode::kUnknown) << value;
  }
}

TEST(StatusFromHttpStatusTest, Table) {
  struct Case {
    int http;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {400, absl::StatusCode::kInternal},         {401, absl::StatusCode::kUnauthenticated},
      {403, absl::StatusCode::kPermissionDenied}, {404, absl::StatusCode::kUnimplemented},
      {429, absl::StatusCode::kUnavailable},      {431, absl::StatusCode::kInternal},
      {502, absl::StatusCode::kUnavailable},      {503, absl::StatusCode::kUnavailable},
      {504, absl::StatusCode::kUnavailable},      {200, absl::StatusCode::kUnknown},
      {500, absl::StatusCode::kUnknown},          {415, absl::StatusCode::kUnknown},
      {0, absl::StatusCode::kUnknown},            {-1, absl::StatusCode::kUnknown},
  };
  for (const Case& c : cases) {
    const absl::Status status = StatusFromHttpStatus(c.http);
    EXPECT_EQ(status.code(), c.code) << c.http;
    EXPECT_EQ(status.message(), "Received HTTP status code " + std::to_string(c.http));
  }
}

TEST(StatusFromRstCodeTest, Table) {
  struct Case {
    uint32_t h2;
    absl::StatusCode code;
    const char* message;
  };
  const Case cases[] = {
      {0, absl::StatusCode::kInternal, "Stream closed with RST_STREAM NGHTTP2_NO_ERROR (0)"},
      {1, absl::StatusCode::kInternal, "Stream closed with RST_STREAM NGHTTP2_PROTOCOL_ERROR (1)"},
      {2, absl::StatusCode::kInternal, "Stream closed with RST_STREAM NGHTTP2_INTERNAL_ERROR (2)"},
      {3, absl::StatusCode::kInternal,
       "Stream closed with RST_STREAM NGHTTP2_FLOW_CONTROL_ERROR (3)"},
      {4, absl::StatusCode::kInternal, "Stream closed with RST_STREAM NGHTTP2_SETTINGS_TIMEOUT (4)"},
      {5, absl::StatusCode::kInternal, "Stream closed with RST_STREAM NGHTTP2_STREAM_CLOSED (5)"},
      {6, absl::StatusCode::kInternal, "Stream closed with RST_STREAM NGHTTP2_FRAME_SIZE_ERROR (6)"},
      {7, absl::StatusCode::kUnavailable,
       "Stream closed with RST_STREAM NGHTTP2_REFUSED_STREAM (7)"},
      {8, absl::StatusCode::kCancelled, "Stream closed with RST_STREAM NGHTTP2_CANCEL (8)"},
      {9, absl::StatusCode::kInternal,
       "Stream closed with RST_STREAM NGHTTP2_COMPRESSION_ERROR (9)"},
      {10, absl::StatusCode::kInternal, "Stream closed with RST_STREAM NGHTTP2_CONNECT_ERROR (10)"},
      {11, absl::StatusCode::kResourceExhausted,
       "Stream closed with RST_STREAM NGHTTP2_ENHANCE_YOUR_CALM (11)"},
      {12, absl::StatusCode::kPermissionDenied,
       "Stream closed with RST_STREAM NGHTTP2_INADEQUATE_SECURITY (12)"},
      {13, absl::StatusCode::kInternal,
       "Stream closed with RST_STREAM NGHTTP2_HTTP_1_1_REQUIRED (13)"},
      {14, absl::StatusCode::kInternal, "Stream closed with RST_STREAM unknown error code (14)"},
      {0xFFFFFFFF, absl::StatusCode::kInternal,
       "Stream closed with RST_STREAM unknown error code (4294967295)"},
  };
  for (const Case& c : cases) {
    const absl::Status status = StatusFromRstCode(c.h2);
    EXPECT_EQ(status.code(), c.code) << c.h2;
    EXPECT_EQ(status.message(), c.message);
  }
}

// The decoded status, or a failure if malformed.
absl::Status Decoded(absl::string_view bytes) {
  absl::Status decoded;
  const absl::Status parsed = DecodeStatusDetails(bytes, &decoded);
  EXPECT_TRUE(parsed.ok()) << parsed;
  return decoded;
}

// Expected bytes built by hand from the protobuf encoding rules.
TEST(StatusDetailsTest, EncodeCodeAndMessage) {
  EXPECT_EQ(EncodeStatusDetails(absl::InvalidArgumentError("bad")),
            std::string("\x08\x03\x12\x03" "bad", 7));
  EXPECT_EQ(EncodeStatusDetails(absl::OkStatus()), "");  // proto3: defaults are omitted
  EXPECT_EQ(EncodeStatusDetails(absl::Status(absl::StatusCode::kUnknown, "")), "\x08\x02");
}

TEST(StatusDetailsTest, EncodePayloadAsAny) {
  absl::Status status = absl::NotFoundError("x");
  status.SetPayload("type.googleapis.com/a.B", absl::Cord("v"));
  const std::string type_url = "type.googleapis.com/a.B";
  std::string any = "\x0A" + std::string(1, static_cast<char>(type_url.size())) + type_url +
                    std::string("\x12\x01v", 3);
  std::string expected = std::string("\x08\x05\x12\x01x", 5) + "\x1A" +
                         std::string(1, static_cast<char>(any.size())) + any;
  EXPECT_EQ(EncodeStatusDetails(status), expected);
}

TEST(StatusDetailsTest, RoundTrip) {
  absl::Status status(absl::StatusCode::kResourceExhausted, std::string(kSpecialMessage));
  status.SetPayload("type.googleapis.com/google.rpc.RetryInfo", absl::Cord(std::string("\0\1\2", 3)));
  // A payload over 128 bytes needs multi-byte varint lengths; a Cord of several chunks.
  absl::Cord big(std::string(300, 'a'));
  big.Append(std::string(5000, 'b'));
  status.SetPayload("type.googleapis.com/big", big);
  const std::string bytes = EncodeStatusDetails(status);

  absl::Status decoded;
  ASSERT_TRUE(DecodeStatusDetails(bytes, &decoded).ok());
  EXPECT_EQ(decoded, status);  // code, message and payloads
  EXPECT_EQ(StatusDetailsCode(bytes).value(), 8);
}

TEST(StatusDetailsTest, DecodeEmptyIsOk) {
  absl::Status decoded = absl::UnknownError("unchanged?");
  ASSERT_TRUE(DecodeStatusDetails("", &decoded).ok());
  EXPECT_EQ(decoded, absl::OkStatus());
  EXPECT_EQ(StatusDetailsCode("").value(), 0);
}

TEST(StatusDetailsTest, OutOfRangeCodes) {
  // code = 99
  EXPECT_EQ(StatusDetailsCode("\x08\x63").value(), 99);
  EXPECT_EQ(Decoded("\x08\x63").code(), absl::StatusCode::kUnknown);
  // code = -1: int32 negatives are 10-byte sign-extended varints.
  const std::string minus_one("\x08\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01", 11);
  EXPECT_EQ(StatusDetailsCode(minus_one).value(), -1);
  EXPECT_EQ(Decoded(minus_one).code(), absl::StatusCode::kUnknown);
}

TEST(StatusDetailsTest, UnknownFieldsSkipped) {
  std::string bytes;
  bytes += std::string("\x20\x96\x01", 3);                  // field 4 varint 150
  bytes += std::string("\x29" "12345678", 9);               // field 5 fixed64
  bytes += std::string("\x35" "1234", 5);                   // field 6 fixed32
  bytes += std::string("\x3A\x02zz", 4);                    // field 7 bytes
  bytes += std::string("\x08\x07", 2);                      // code 7
  bytes += std::string("\x1A\x05\x0A\x01t\x18\x01", 7);     // Any{type_url "t", field 3 = 1}
  bytes += std::string("\x10\x01", 2);                      // field 2 with the wrong wire type
  const absl::Status decoded = Decoded(bytes);
  EXPECT_EQ(decoded.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(decoded.message(), "");
  EXPECT_EQ(decoded.GetPayload("t"), absl::Cord(""));
}

TEST(StatusDetailsTest, WellFormedGroupsAreSkippedAsUnknownFields) {
  // field 1 as a group (wire type 3) holding a varint, then code 5: as any protobuf parser.
  const absl::Status decoded = Decoded(std::string("\x0B\x08\x01\x0C\x08\x05", 6));
  EXPECT_EQ(decoded.code(), absl::StatusCode::kNotFound);
}

// The wire bytes are the generated google.rpc.Status's, both ways.
TEST(StatusDetailsTest, GeneratedMessageBothWays) {
  absl::Status status = absl::AbortedError("try again");
  status.SetPayload("type.googleapis.com/google.rpc.DebugInfo", absl::Cord("\x12\x01x"));
  google::rpc::Status rpc_status;
  ASSERT_TRUE(rpc_status.ParseFromString(EncodeStatusDetails(status)));
  EXPECT_EQ(rpc_status.code(), 10);
  EXPECT_EQ(rpc_status.message(), "try again");
  ASSERT_EQ(rpc_status.details_size(), 1);
  EXPECT_EQ(rpc_status.details(0).type_url(), "type.googleapis.com/google.rpc.DebugInfo");
  EXPECT_EQ(rpc_status.details(0).value(), "\x12\x01x");
  EXPECT_EQ(FromRpcStatus(rpc_status), status);
  EXPECT_EQ(Decoded(rpc_status.SerializeAsString()), status);
  EXPECT_EQ(ToRpcStatus(status).SerializeAsString(), rpc_status.SerializeAsString());
}

TEST(StatusDetailsTest, LastFieldWins) {
  const std::string bytes("\x08\x01\x12\x01" "a\x08\x02\x12\x01" "b", 10);
  EXPECT_EQ(Decoded(bytes), absl::UnknownError("b"));
}

TEST(StatusDetailsTest, MalformedIsInternal) {
  const std::string cases[] = {
      std::string("\x08", 1),                     // tag without value
      std::string("\x08\xFF", 2),                 // truncated varint
      std::string("\x12\x05" "abc", 5),           // string longer than the input
      std::string("\x12", 1),                     // length missing
      std::string("\x00\x01", 2),                 // field number 0
      std::string("\x1A\x05\x0A\x01t", 5),        // Any longer than the input
      std::string("\x1A\x02\x0A\x05", 4),         // Any's type_url longer than the Any
      std::string("\x1A\x01\x00", 3),             // field 0 inside Any
      std::string("\x0B\x08", 2),                 // group never ended
      std::string("\x0C", 1),                     // end of a group never started
      std::string("\x12\x02\xC3\x28", 4),         // message not UTF-8 (proto3 string)
      std::string("\x1A\x03\x0A\x01\xFF", 5),     // type URL not UTF-8
      std::string("\x0F", 1),                     // wire type 7
      std::string("\x29" "1234", 5),              // truncated fixed64
      std::string("\x08\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01", 12),  // 11-byte varint
  };
  for (const std::string& bytes : cases) {
    absl::Status decoded = absl::AbortedError("unchanged");
    EXPECT_EQ(DecodeStatusDetails(bytes, &decoded).code(), absl::StatusCode::kInternal)
        << testing::PrintToString(bytes);
    EXPECT_EQ(decoded, absl::AbortedError("unchanged"));
    EXPECT_EQ(StatusDetailsCode(bytes).status().code(), absl::StatusCode::kInternal);
  }
}

}  // namespace
}  // namespace h2rpc::rpc
