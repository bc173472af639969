// rpc/wire_protocol.h: content-type parsing, gRPC-Web's trailer frame, the text mode's base64
// in both directions (chunks split anywhere, padding mid-stream).
#include "rpc/wire_protocol.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "rpc/framing.h"

namespace h2rpc::rpc {
namespace {

TEST(ParseRequestContentType, TakesOurTypesExactly) {
  struct Case {
    const char* in;
    WireProtocol protocol;
    const char* codec;
  };
  for (const Case& c : {Case{"application/grpc", WireProtocol::kGrpc, ""},
                        Case{"application/grpc+proto", WireProtocol::kGrpc, "proto"},
                        Case{"application/grpc; charset=utf-8", WireProtocol::kGrpc, ""},
                        Case{"Application/GRPC+json", WireProtocol::kGrpc, "json"},
                        Case{"application/grpc-web", WireProtocol::kGrpcWeb, ""},
                        Case{"application/grpc-web+proto", WireProtocol::kGrpcWeb, "proto"},
                        Case{"application/grpc-web-text", WireProtocol::kGrpcWebText, ""},
                        Case{"application/grpc-web-text+proto ; a=b", WireProtocol::kGrpcWebText,
                             "proto"}}) {
    auto t = ParseRequestContentType(c.in);
    ASSERT_TRUE(t.has_value()) << c.in;
    EXPECT_EQ(t->protocol, c.protocol) << c.in;
    EXPECT_EQ(t->codec, c.codec) << c.in;
  }
}

TEST(ParseRequestContentType, RefusesLookalikes) {
  for (const char* in : {"", "application/grpcx", "application/grpc-webx", "application/grpc+",
                         "application/jsonx", "text/grpc", "application/grpc-web-text-x",
                         "application/protobuf", "application/connect+xml"}) {
    EXPECT_FALSE(ParseRequestContentType(in).has_value()) << in;
  }
}

TEST(ResponseContentType, EchoesProtocolAndCodec) {
  EXPECT_EQ(ResponseContentType({WireProtocol::kGrpcWeb, "proto"}), "application/grpc-web+proto");
  EXPECT_EQ(ResponseContentType({WireProtocol::kGrpcWebText, ""}), "application/grpc-web-text");
}

TEST(GrpcWebTrailerFrame, FlagLengthAndLowerCaseFields) {
  transport::Headers fields{{"grpc-status", "5"}, {"grpc-message", "nope"}, {"X-Trace", "a b"}};
  const std::string frame = GrpcWebTrailerFrame(fields);
  const std::string block = "grpc-status: 5\r\ngrpc-message: nope\r\nx-trace: a b\r\n";
  ASSERT_EQ(frame.size(), 5 + block.size());
  EXPECT_EQ(static_cast<uint8_t>(frame[0]), 0x80);
  EXPECT_EQ(frame.substr(1, 4), MessagePrefix(static_cast<uint32_t>(block.size()), false).substr(1));
  EXPECT_EQ(frame.substr(5), block);
}

TEST(Base64StreamDecoder, ChunksSplitMidQuantumAndPaddingMidStream) {
  // Two writes base64'd separately (each padded), as a browser's client sends them.
  const std::string a = FrameMessage("hello", false), b = FrameMessage("gRPC-Web!", false);
  const std::string text = absl::Base64Escape(a) + absl::Base64Escape(b);
  ASSERT_NE(absl::Base64Escape(a).find('='), std::string::npos);  // padding mid-stream
  for (size_t split1 = 0; split1 <= text.size(); ++split1) {
    for (size_t split2 = split1; split2 <= text.size(); split2 += 3) {
      Base64StreamDecoder d;
      std::string out;
      ASSERT_TRUE(d.Feed(text.substr(0, split1), out).ok());
      ASSERT_TRUE(d.Feed(text.substr(split1, split2 - split1), out).ok());
      ASSERT_TRUE(d.Feed(text.substr(split2), out).ok());
      EXPECT_TRUE(d.Finish().ok());
      EXPECT_EQ(out, a + b) << split1 << " " << split2;
    }
  }
}

TEST(Base64StreamDecoder, RefusesBadInput) {
  std::string out;
  Base64StreamDecoder bad_char;
  EXPECT_EQ(bad_char.Feed("ab*d", out).code(), absl::StatusCode::kInternal);
  Base64StreamDecoder bad_pad;
  EXPECT_FALSE(bad_pad.Feed("a===", out).ok());
  Base64StreamDecoder pad_first;
  EXPECT_FALSE(pad_first.Feed("=abc", out).ok());
  Base64StreamDecoder partial;
  ASSERT_TRUE(partial.Feed("YWJj" "YW", out).ok());
  EXPECT_FALSE(partial.Finish().ok());
}

TEST(CallProtocol, GrpcIsServerCallsOwnPath) {
  EXPECT_EQ(MakeCallProtocol({WireProtocol::kGrpc, ""}), nullptr);
}

TEST(CallProtocol, GrpcWebTextEncodesEachWriteAndTheStatus) {
  auto p = MakeCallProtocol({WireProtocol::kGrpcWebText, "proto"});
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->StatusInBody());
  const std::string framed = FrameMessage("xyz", false);
  transport::SharedBuffer out = p->EncodeMessage(transport::SharedBuffer(framed));
  EXPECT_EQ(std::string(out.view()), absl::Base64Escape(framed));
  transport::Headers fields{{"grpc-status", "0"}};
  EXPECT_EQ(p->EndOfBody(fields), absl::Base64Escape(GrpcWebTrailerFrame(fields)));
  transport::Headers headers;
  p->ResponseHeaders(Compression::kIdentity, headers);
  EXPECT_EQ(headers.get("content-type").value_or(""), "application/grpc-web-text+proto");
  // The request side decodes what the response side would encode.
  transport::SharedBuffer decoded;
  ASSERT_TRUE(p->DecodeRequest(out, decoded).ok());
  EXPECT_EQ(std::string(decoded.view()), framed);
}

TEST(CallProtocol, GrpcWebBinaryPassesBytesThrough) {
  auto p = MakeCallProtocol({WireProtocol::kGrpcWeb, ""});
  ASSERT_NE(p, nullptr);
  const std::string framed = FrameMessage("xyz", false);
  EXPECT_EQ(std::string(p->EncodeMessage(transport::SharedBuffer(framed)).view()), framed);
  EXPECT_EQ(p->EndOfBody({{"grpc-status", "0"}}), GrpcWebTrailerFrame({{"grpc-status", "0"}}));
}

}  // namespace
}  // namespace h2rpc::rpc
