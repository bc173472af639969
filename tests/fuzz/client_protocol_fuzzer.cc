// Fuzz target: the client's translation of gRPC-Web and Connect responses into gRPC's shape
// (rpc/client_protocol.h): gRPC-Web's envelopes and trailer frame (binary and base64 text mode),
// Connect unary bodies and error JSON, Connect stream envelopes and the end-stream JSON, with
// compression, limits and the JSON codec.
//
// Input: byte 0 = the call (below), bytes 1-2 = the body's split into reads (fuzz_util.h), byte 3
// = the receive limit (16 << (b % 12) bytes), then the response headers as "name: value" lines
// up to a NUL, then the body.
//   byte 0 bits 0-1: grpc-web, grpc-web-text, connect, connect; bit 2: Connect's JSON codec;
//   bits 3-4: the method (Echo unary, Expand server streaming, Chat bidi, a path without a
//   descriptor); bit 5: END_STREAM on the headers (no body then); bits 6-7: :status 200, 404,
//   503, or the input's first header line's value.
// Properties, besides no crash, leak, UB or unbounded memory:
//  * The verdict and the translation do not depend on how the body was split into reads.
//  * Reset() forgets everything: a second attempt on the same object translates the same.
//  * What reaches the gRPC path is whole gRPC frames (prefix length exact), each message within
//    the receive limit.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "rpc/client_protocol.h"
#include "rpc/service.h"
#include "rpc/testdata/echo_service.h2rpc.h"
#include "tests/fuzz/fuzz_util.h"
#include "transport/buffer.h"
#include "transport/headers.h"

namespace {

using h2rpc::fuzz::Input;
using h2rpc::rpc::ChannelProtocol;
using h2rpc::rpc::ClientProtocol;
using h2rpc::rpc::ConnectCodec;
using h2rpc::transport::Headers;
using h2rpc::transport::SharedBuffer;

constexpr const char* kPaths[] = {
    "/h2rpc.rpc_test.EchoService/Echo",
    "/h2rpc.rpc_test.EchoService/Expand",
    "/h2rpc.rpc_test.EchoService/Chat",
    "/not.Known/Method",
};

struct Outcome {
  absl::StatusCode code = absl::StatusCode::kOk;  // the first error's, if any
  ClientProtocol::Translated out;
};

// The same verdict and, without an error, the same translation (what came before an error is
// dropped with the call). `any_error`: a failed response may fail for another reason in another
// split (a body both too large and not base64: whole, the decoder refuses it first; in reads,
// an earlier envelope's length may), so only failing or not must agree.
bool Same(const Outcome& a, const Outcome& b, bool any_error) {
  if (a.code != b.code) {
    return any_error && a.code != absl::StatusCode::kOk && b.code != absl::StatusCode::kOk;
  }
  if (a.code != absl::StatusCode::kOk) return true;
  return a.out.headers == b.out.headers && a.out.trailers_only == b.out.trailers_only &&
         a.out.framed == b.out.framed && a.out.trailers == b.out.trailers;
}

// One response through `protocol`, the body in `reads`.
Outcome Translate(ClientProtocol& protocol, const Headers& headers, bool end_stream,
                  const std::vector<std::string_view>& reads) {
  Outcome r;
  protocol.Reset();
  absl::Status st = protocol.OnHeaders(headers, end_stream, r.out);
  for (size_t i = 0; st.ok() && !end_stream && i < reads.size(); ++i) {
    st = protocol.OnBody(SharedBuffer(std::string(reads[i])), r.out);
  }
  if (st.ok()) st = protocol.OnEnd(r.out);
  r.code = st.code();
  return r;
}

// `framed` is whole gRPC frames, each message at most `limit` bytes.
bool WholeFrames(std::string_view framed, size_t limit) {
  while (!framed.empty()) {
    if (framed.size() < 5) return false;
    const auto* p = reinterpret_cast<const uint8_t*>(framed.data());
    if (p[0] > 1) return false;
    const uint32_t length = uint32_t{p[1]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 8 | p[4];
    if (length > limit || framed.size() - 5 < length) return false;
    framed.remove_prefix(5 + length);
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // libprotobuf logs every JSON it cannot print or parse: noise at millions of inputs.
  // The EchoService descriptors are echo_service.proto's; a static link (the fuzz build) keeps
  // them only when referenced, as its generated Service does.
  static const bool initialized = [] {
    google::protobuf::SetLogHandler(nullptr);
    h2rpc::rpc::internal::KeepGeneratedDescriptors(
        &::descriptor_table_rpc_2ftestdata_2fecho_5fservice_2eproto);
    return true;
  }();
  (void)initialized;
  Input in(data, size);
  const uint8_t call = in.Byte();
  const uint16_t split = in.U16();
  const size_t limit = size_t{16} << (in.Byte() % 12);

  static constexpr ChannelProtocol kProtocols[] = {
      ChannelProtocol::kGrpcWeb, ChannelProtocol::kGrpcWebText, ChannelProtocol::kConnect,
      ChannelProtocol::kConnect};
  const ChannelProtocol protocol = kProtocols[call & 3];
  const ConnectCodec codec = (call & 4) ? ConnectCodec::kJson : ConnectCodec::kProto;
  const char* path = kPaths[(call >> 3) & 3];
  const bool end_stream = (call & 0x20) != 0;

  Headers headers;
  std::string_view status;
  switch (call >> 6) {
    case 0: status = "200"; break;
    case 1: status = "404"; break;
    case 2: status = "503"; break;
    default: break;
  }
  std::string_view block = in.Until('\0');
  bool first = true;
  while (!block.empty()) {
    const size_t eol = block.find('\n');
    std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 1);
    if (first && status.empty()) {
      status = line;  // a :status the input chooses, numeric or not
      first = false;
      continue;
    }
    first = false;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    // As the transport hands them over: lower-case names, values without surrounding spaces.
    const absl::string_view name(line.data(), colon), value(line.data() + colon + 1,
                                                           line.size() - colon - 1);
    headers.add(absl::AsciiStrToLower(name), std::string(absl::StripAsciiWhitespace(value)));
  }
  Headers response;
  response.add(":status", std::string(status));
  for (const auto& f : headers) response.add(f.name, f.value);

  const std::string_view body = in.Rest();
  absl::StatusOr<std::unique_ptr<ClientProtocol>> made =
      ClientProtocol::Make(protocol, codec, path, limit);
  if (!made.ok()) {
    // Only Connect JSON on a path the program has no descriptor for.
    H2RPC_FUZZ_CHECK(protocol == ChannelProtocol::kConnect && codec == ConnectCodec::kJson);
    return 0;
  }
  H2RPC_FUZZ_CHECK(*made != nullptr);
  ClientProtocol& p = **made;

  const std::vector<std::string_view> whole = h2rpc::fuzz::SplitReads(body, 0);
  const Outcome once = Translate(p, response, end_stream, whole);
  const Outcome split_up = Translate(p, response, end_stream, h2rpc::fuzz::SplitReads(body, split));
  H2RPC_FUZZ_CHECK(Same(once, split_up, /*any_error=*/true));
  const Outcome again = Translate(p, response, end_stream, whole);
  H2RPC_FUZZ_CHECK(Same(once, again, /*any_error=*/false));
  if (once.code == absl::StatusCode::kOk) H2RPC_FUZZ_CHECK(WholeFrames(once.out.framed, limit));
  return 0;
}
