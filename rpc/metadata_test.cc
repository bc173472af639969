#include "rpc/metadata.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace h2rpc::rpc {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using Fields = std::vector<Metadata::Entry>;

TEST(MetadataTest, KeyPredicates) {
  EXPECT_TRUE(Metadata::IsValidKey("abc-123_x.y"));
  EXPECT_TRUE(Metadata::IsValidKey("-bin"));
  EXPECT_FALSE(Metadata::IsValidKey(""));
  EXPECT_FALSE(Metadata::IsValidKey("Abc"));
  EXPECT_FALSE(Metadata::IsValidKey(":path"));
  EXPECT_FALSE(Metadata::IsValidKey("a b"));
  EXPECT_FALSE(Metadata::IsValidKey("a/b"));
  EXPECT_FALSE(Metadata::IsValidKey("caf\xC3\xA9"));
  EXPECT_TRUE(Metadata::IsBinaryKey("x-bin"));
  EXPECT_FALSE(Metadata::IsBinaryKey("x-bin2"));
  EXPECT_FALSE(Metadata::IsBinaryKey("xbin"));
  EXPECT_TRUE(Metadata::IsReservedKey("grpc-status"));
  EXPECT_FALSE(Metadata::IsReservedKey("grpcx"));
  EXPECT_FALSE(Metadata::IsReservedKey("x-grpc-test-echo-initial"));
  EXPECT_TRUE(Metadata::IsValidAsciiValue(" ~"));
  EXPECT_TRUE(Metadata::IsValidAsciiValue(""));
  EXPECT_FALSE(Metadata::IsValidAsciiValue("\t"));
  EXPECT_FALSE(Metadata::IsValidAsciiValue("\x7F"));
  EXPECT_FALSE(Metadata::IsValidAsciiValue("\x80"));
  EXPECT_FALSE(Metadata::IsValidAsciiValue("a\r\nb"));
}

TEST(MetadataTest, AddGetRemoveKeepOrder) {
  Metadata md;
  ASSERT_TRUE(md.Add("b", "1").ok());
  ASSERT_TRUE(md.Add("A", "2").ok());  // lower-cased
  ASSERT_TRUE(md.Add("b", "3").ok());
  ASSERT_TRUE(md.Add("x-bin", std::string("\0\xFF", 2)).ok());
  EXPECT_EQ(md.size(), 4u);
  EXPECT_THAT(md, ElementsAre(Pair("b", "1"), Pair("a", "2"), Pair("b", "3"),
                              Pair("x-bin", std::string("\0\xFF", 2))));
  EXPECT_THAT(md.Get("b"), ElementsAre("1", "3"));
  EXPECT_THAT(md.Get("B"), ElementsAre("1", "3"));
  EXPECT_THAT(md.Get("c"), IsEmpty());
  EXPECT_EQ(md.GetFirst("b"), "1");
  EXPECT_EQ(md.GetFirst("a"), "2");
  EXPECT_EQ(md.GetFirst("c"), std::nullopt);
  EXPECT_TRUE(md.Contains("A"));
  EXPECT_EQ(md.Remove("B"), 2u);
  EXPECT_EQ(md.Remove("b"), 0u);
  EXPECT_FALSE(md.Contains("b"));
  EXPECT_THAT(md, ElementsAre(Pair("a", "2"), Pair("x-bin", std::string("\0\xFF", 2))));
}

TEST(MetadataTest, AddRejects) {
  Metadata md;
  for (const char* key : {"", "a b", ":path", "a/b", "caf\xC3\xA9", "a\n"}) {
    EXPECT_EQ(md.Add(key, "v").code(), absl::StatusCode::kInvalidArgument) << key;
  }
  for (const char* key : {"grpc-status", "grpc-timeout", "GRPC-MESSAGE", "grpc-status-details-bin",
                          "grpc-"}) {
    EXPECT_EQ(md.Add(key, "v").code(), absl::StatusCode::kInvalidArgument) << key;
  }
  for (const char* value : {"\t", "a\r\nb", "\x7F", "caf\xC3\xA9"}) {
    EXPECT_EQ(md.Add("k", value).code(), absl::StatusCode::kInvalidArgument) << value;
  }
  EXPECT_EQ(md.Add("k", std::string("\0", 1)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(md.empty());
  // Any bytes are fine under a -bin key; an empty ASCII value is fine.
  EXPECT_TRUE(md.Add("k-bin", "caf\xC3\xA9\r\n").ok());
  EXPECT_TRUE(md.Add("k", "").ok());
}

TEST(MetadataTest, ToWireBase64Unpadded) {
  Metadata md;
  ASSERT_TRUE(md.Add("a", "plain, with comma").ok());
  ASSERT_TRUE(md.Add("one-bin", "A").ok());       // QQ==
  ASSERT_TRUE(md.Add("two-bin", "AB").ok());      // QUI=
  ASSERT_TRUE(md.Add("three-bin", "ABC").ok());   // QUJD
  ASSERT_TRUE(md.Add("empty-bin", "").ok());
  ASSERT_TRUE(md.Add("bytes-bin", std::string("\xFB\xFF\x00", 3)).ok());  // +/8A
  EXPECT_THAT(md.ToWire(),
              ElementsAre(Pair("a", "plain, with comma"), Pair("one-bin", "QQ"),
                          Pair("two-bin", "QUI"), Pair("three-bin", "QUJD"),
                          Pair("empty-bin", ""), Pair("bytes-bin", "+/8A")));
}

TEST(MetadataTest, RoundTripEveryByteValueAndLength) {
  Metadata md;
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes.push_back(static_cast<char>(i));
    ASSERT_TRUE(md.Add("k-bin", bytes).ok());
  }
  const absl::StatusOr<Metadata> back = Metadata::FromWire(md.ToWire(), true);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, md);
}

TEST(MetadataTest, FromWireAcceptsPaddedAndUnpadded) {
  const Fields fields = {{"a-bin", "QQ=="}, {"a-bin", "QQ"},   {"a-bin", "QUI="},
                         {"a-bin", "QUI"},  {"a-bin", "QUJD"}, {"a-bin", ""},
                         {"a-bin", "QR"}};  // non-zero leftover bits are ignored, as in Go
  const absl::StatusOr<Metadata> md = Metadata::FromWire(fields, true);
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_THAT(md->Get("a-bin"), ElementsAre("A", "A", "AB", "AB", "ABC", "", "A"));
}

TEST(MetadataTest, FromWireSplitsJoinedBinaryValues) {
  // Node joins duplicate fields with ", "; other joiners may use "," alone.
  const Fields fields = {{"x-bin", "QQ, QUI=,QUJD"}, {"x-bin", "QQ== , "}, {"y", "a, b"}};
  const absl::StatusOr<Metadata> md = Metadata::FromWire(fields, true);
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_THAT(*md, ElementsAre(Pair("x-bin", "A"), Pair("x-bin", "AB"), Pair("x-bin", "ABC"),
                               Pair("x-bin", "A"), Pair("x-bin", ""), Pair("y", "a, b")));
}

TEST(MetadataTest, FromWireInvalidBase64IsInternal) {
  for (const char* value : {"Q", "QQ=", "QQ===", "Q===", "=QQQ", "Q=Q=", "QQ QQ", "QQ\tQ", "-_8",
                            "QUJDQ", "Q\xC3\xA9", "QQ==QQ==", "QQ,Q"}) {
    const absl::StatusOr<Metadata> md = Metadata::FromWire(Fields{{"k-bin", value}}, true);
    EXPECT_EQ(md.status().code(), absl::StatusCode::kInternal) << value;
  }
  // Also when the reserved field would be kept.
  EXPECT_EQ(Metadata::FromWire(Fields{{"grpc-status-details-bin", "!"}}, false).status().code(),
            absl::StatusCode::kInternal);
}

const Fields kResponseFields = {
    {":status", "200"},
    {"content-type", "application/grpc"},
    {"grpc-encoding", "gzip"},
    {"grpc-accept-encoding", "identity,gzip"},
    {"te", "trailers"},
    {"user-agent", "grpc-go/1.60"},
    {"grpc-status", "0"},
    {"grpc-message", "ok%25"},
    {"grpc-status-details-bin", "CAI"},
    {"connection", "close"},
    {"keep-alive", "5"},
    {"proxy-connection", "x"},
    {"transfer-encoding", "chunked"},
    {"upgrade", "h2c"},
    {"x-grpc-test-echo-initial", "test_initial_metadata_value"},
    {"x-grpc-test-echo-trailing-bin", "q6ur"},
    {"Upper-Case", "v"},
    {"bad key", "v"},
    {"x-non-ascii", "caf\xC3\xA9"},
    {"x-tab", "a\tb"},
    {"host", "example.com"},
};

TEST(MetadataTest, FromWireSkipReserved) {
  const absl::StatusOr<Metadata> md = Metadata::FromWire(kResponseFields, true);
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_THAT(*md, ElementsAre(Pair("user-agent", "grpc-go/1.60"),
                               Pair("x-grpc-test-echo-initial", "test_initial_metadata_value"),
                               Pair("x-grpc-test-echo-trailing-bin", "\xAB\xAB\xAB"),
                               Pair("upper-case", "v"), Pair("host", "example.com")));
  // What survives can be echoed back.
  EXPECT_THAT(md->ToWire(),
              ElementsAre(Pair("user-agent", "grpc-go/1.60"),
                          Pair("x-grpc-test-echo-initial", "test_initial_metadata_value"),
                          Pair("x-grpc-test-echo-trailing-bin", "q6ur"), Pair("upper-case", "v"),
                          Pair("host", "example.com")));
}

TEST(MetadataTest, FromWireKeepReserved) {
  const absl::StatusOr<Metadata> md = Metadata::FromWire(kResponseFields, false);
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_EQ(md->GetFirst("grpc-status"), "0");
  EXPECT_EQ(md->GetFirst("grpc-message"), "ok%25");  // percent-decoding is status_util's job
  EXPECT_EQ(md->GetFirst("grpc-status-details-bin"), std::string("\x08\x02", 2));
  EXPECT_EQ(md->GetFirst("content-type"), "application/grpc");
  EXPECT_EQ(md->GetFirst("te"), "trailers");
  EXPECT_FALSE(md->Contains(":status"));
  EXPECT_FALSE(md->Contains("x-non-ascii"));
  EXPECT_FALSE(md->Contains("x-tab"));
  EXPECT_EQ(md->size(), kResponseFields.size() - 4);  // :status, bad key, 2 non-ASCII values
}

TEST(MetadataTest, FromWireEmpty) {
  const absl::StatusOr<Metadata> md = Metadata::FromWire({}, true);
  ASSERT_TRUE(md.ok());
  EXPECT_TRUE(md->empty());
}

}  // namespace
}  // namespace h2rpc::rpc
