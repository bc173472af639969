// Fuzz target: gRPC-Web's own parsers and encoders (rpc/wire_protocol.h): the streaming base64
// decoder of gRPC-Web-text request bodies, the gRPC-Web CallProtocol both ways, and the trailer
// frame (flag 0x80) built from status fields.
//
// Input: byte 0 = mode (below), bytes 1-2 = chunk split (fuzz_util.h), then the mode's bytes.
//  * kDecoder: a grpc-web-text body. Fed whole and fed in chunks, the decoder must give the same
//    bytes and the same verdict; what it accepts is whole base64 quanta, each one what absl's
//    decoder makes of it, and no more than 3 bytes per 4 characters.
//  * kEncode: binary request/response bytes. Each chunk base64-encoded on its own (as each client
//    write is) decodes back to the bytes in any split; the text protocol's EncodeMessage decodes
//    back to its message.
//  * kTrailers: "name value" lines. The trailer frame of those fields parses back to them (names
//    lower-cased), its length prefix exact, in both binary and text modes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "rpc/wire_protocol.h"
#include "tests/fuzz/fuzz_util.h"
#include "transport/buffer.h"
#include "transport/headers.h"

namespace {

using h2rpc::fuzz::Input;
using h2rpc::fuzz::SplitReads;
using h2rpc::rpc::Base64StreamDecoder;
using h2rpc::rpc::CallProtocol;
using h2rpc::rpc::MakeCallProtocol;
using h2rpc::rpc::RequestContentType;
using h2rpc::rpc::WireProtocol;
using h2rpc::transport::Headers;
using h2rpc::transport::SharedBuffer;

enum Mode : uint8_t { kDecoder = 0, kEncode = 1, kTrailers = 2 };

// Debian's Abseil has its own string_view (not std's): the bridge.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string_view View(const SharedBuffer& b) { return std::string_view(b.data(), b.size()); }

// The text protocol's request path: DecodeRequest per chunk, then EndRequest.
absl::Status DecodeText(std::string_view body, uint16_t split, std::string& out) {
  std::unique_ptr<CallProtocol> text =
      MakeCallProtocol(RequestContentType{WireProtocol::kGrpcWebText, ""});
  H2RPC_FUZZ_CHECK(text != nullptr);
  for (std::string_view chunk : SplitReads(body, split)) {
    SharedBuffer framed;
    if (absl::Status st = text->DecodeRequest(SharedBuffer(std::string(chunk)), framed); !st.ok()) {
      return st;
    }
    out.append(View(framed));
  }
  SharedBuffer last;
  absl::Status st = text->EndRequest(last);
  H2RPC_FUZZ_CHECK(last.size() == 0);
  return st;
}

void CheckDecoder(std::string_view body, uint16_t split) {
  std::string whole;
  Base64StreamDecoder decoder;
  absl::Status fed = decoder.Feed(A(body), whole);
  absl::Status status = fed.ok() ? decoder.Finish() : fed;

  std::string chunked;
  absl::Status chunked_status = DecodeText(body, split, chunked);
  // The split never matters: same verdict, and the same bytes up to an error.
  H2RPC_FUZZ_CHECK(status.ok() == chunked_status.ok());
  if (!status.ok()) {
    H2RPC_FUZZ_CHECK(status.code() == absl::StatusCode::kInternal);
    H2RPC_FUZZ_CHECK(chunked_status.code() == absl::StatusCode::kInternal);
    return;
  }
  H2RPC_FUZZ_CHECK(whole == chunked);
  // Whole quanta only, each decoded as absl decodes it alone.
  H2RPC_FUZZ_CHECK(body.size() % 4 == 0);
  H2RPC_FUZZ_CHECK(whole.size() <= body.size() / 4 * 3);
  std::string expected;
  for (size_t at = 0; at < body.size(); at += 4) {
    std::string quantum;
    H2RPC_FUZZ_CHECK(absl::Base64Unescape(A(body.substr(at, 4)), &quantum));
    expected += quantum;
  }
  H2RPC_FUZZ_CHECK(whole == expected);
}

void CheckEncode(std::string_view bytes, uint16_t split) {
  // A client that base64-encodes each write on its own (padding mid-stream).
  std::string body;
  for (std::string_view chunk : SplitReads(bytes, split)) body += absl::Base64Escape(A(chunk));
  for (uint16_t s : {uint16_t{0}, split, static_cast<uint16_t>(split ^ 0x5a5a)}) {
    std::string decoded;
    H2RPC_FUZZ_CHECK(DecodeText(body, s, decoded).ok());
    H2RPC_FUZZ_CHECK(decoded == bytes);
  }
  // The response side: each message the text protocol sends decodes to it.
  std::unique_ptr<CallProtocol> text =
      MakeCallProtocol(RequestContentType{WireProtocol::kGrpcWebText, "proto"});
  const SharedBuffer sent = text->EncodeMessage(SharedBuffer(std::string(bytes)));
  std::string back;
  H2RPC_FUZZ_CHECK(DecodeText(View(sent), split, back).ok());
  H2RPC_FUZZ_CHECK(back == bytes);
  // Binary gRPC-Web passes bytes through both ways.
  std::unique_ptr<CallProtocol> binary =
      MakeCallProtocol(RequestContentType{WireProtocol::kGrpcWeb, ""});
  SharedBuffer framed;
  H2RPC_FUZZ_CHECK(binary->DecodeRequest(SharedBuffer(std::string(bytes)), framed).ok());
  H2RPC_FUZZ_CHECK(View(framed) == bytes);
  H2RPC_FUZZ_CHECK(View(binary->EncodeMessage(SharedBuffer(std::string(bytes)))) == bytes);
}

// The trailer frame read back: flag, length, then "name: value\r\n" lines.
Headers ParseTrailerFrame(std::string_view frame) {
  H2RPC_FUZZ_CHECK(frame.size() >= 5);
  H2RPC_FUZZ_CHECK(static_cast<uint8_t>(frame[0]) == 0x80);
  const uint32_t n = static_cast<uint32_t>(static_cast<uint8_t>(frame[1])) << 24 |
                     static_cast<uint32_t>(static_cast<uint8_t>(frame[2])) << 16 |
                     static_cast<uint32_t>(static_cast<uint8_t>(frame[3])) << 8 |
                     static_cast<uint8_t>(frame[4]);
  H2RPC_FUZZ_CHECK(n == frame.size() - 5);
  std::string_view block = frame.substr(5);
  Headers out;
  while (!block.empty()) {
    const size_t end = block.find("\r\n");
    H2RPC_FUZZ_CHECK(end != std::string_view::npos);
    const std::string_view line = block.substr(0, end);
    const size_t colon = line.find(": ");
    H2RPC_FUZZ_CHECK(colon != std::string_view::npos);
    out.add(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
    block.remove_prefix(end + 2);
  }
  return out;
}

// What a header field may hold on the wire (RFC 9110 §5.5): no CR, LF or NUL in a value; a
// token of a name (lower-case letters, digits and "-_." here, as gRPC metadata) with no ':'.
bool WireSafe(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  // The parser above splits at the first ": "; a value may hold one, a name cannot.
  return true;
}

void CheckTrailers(Input& in) {
  Headers fields;
  Headers expected;
  while (!in.empty()) {
    const std::string_view line = in.Until('\n');
    const size_t space = line.find(' ');
    const std::string_view name = line.substr(0, space);
    const std::string_view value =
        space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    if (!WireSafe(name, value)) continue;
    fields.add(std::string(name), std::string(value));
    expected.add(absl::AsciiStrToLower(A(name)), std::string(value));
  }
  const std::string frame = h2rpc::rpc::GrpcWebTrailerFrame(fields);
  const Headers parsed = ParseTrailerFrame(frame);
  H2RPC_FUZZ_CHECK(std::vector<h2rpc::transport::HeaderField>(parsed.begin(), parsed.end()) ==
                   std::vector<h2rpc::transport::HeaderField>(expected.begin(), expected.end()));
  // The protocols' EndOfBody is that frame (base64 in text mode, decodable in any split).
  std::unique_ptr<CallProtocol> binary =
      MakeCallProtocol(RequestContentType{WireProtocol::kGrpcWeb, "proto"});
  H2RPC_FUZZ_CHECK(binary->StatusInBody());
  H2RPC_FUZZ_CHECK(binary->EndOfBody(fields) == frame);
  std::unique_ptr<CallProtocol> text =
      MakeCallProtocol(RequestContentType{WireProtocol::kGrpcWebText, ""});
  std::string decoded;
  H2RPC_FUZZ_CHECK(DecodeText(text->EndOfBody(fields), static_cast<uint16_t>(frame.size()),
                              decoded).ok());
  H2RPC_FUZZ_CHECK(decoded == frame);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t mode = in.Byte() % 3;
  const uint16_t split = in.U16();
  switch (mode) {
    case kDecoder:
      CheckDecoder(in.Rest(), split);
      break;
    case kEncode:
      CheckEncode(in.Rest(), split);
      break;
    case kTrailers:
      CheckTrailers(in);
      break;
  }
  return 0;
}
