// gRPC message compression (doc/compression.md; notes §5): the `grpc-encoding` algorithms this
// library implements, one fresh zlib context per message, and the `grpc-accept-encoding` list.
//
// "gzip" is DEFLATE in the gzip wrapper (RFC 1952), "deflate" is DEFLATE in the zlib wrapper
// (RFC 1950), as C-core (windowBits 15 | 16 for gzip) and grpc-js (zlib.gzip / zlib.deflate) do;
// neither is raw DEFLATE.
//
// Threading: pure functions on values, callable from any thread (each call has its own zlib
// stream). Lifetime: results own their bytes; arguments are only read during the call.
#ifndef H2RPC_RPC_COMPRESSION_H_
#define H2RPC_RPC_COMPRESSION_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace h2rpc::rpc {

enum class Compression { kIdentity, kGzip, kDeflate };

// "identity", "gzip", "deflate".
absl::string_view CompressionName(Compression compression);
// The algorithm of a `grpc-encoding` value (exact, lower-case, as grpc-go and C-core compare), or
// nullopt for one we do not implement (snappy, custom...): the server then fails the call
// UNIMPLEMENTED, the client INTERNAL.
std::optional<Compression> CompressionFromName(absl::string_view name);

// A set of algorithms (a bit mask: a cheap value).
class CompressionSet {
 public:
  constexpr CompressionSet() = default;
  constexpr CompressionSet(std::initializer_list<Compression> members) {
    for (const Compression c : members) Insert(c);
  }
  static constexpr CompressionSet All() {
    return {Compression::kIdentity, Compression::kGzip, Compression::kDeflate};
  }

  constexpr void Insert(Compression c) { bits_ |= Bit(c); }
  constexpr void Erase(Compression c) { bits_ &= static_cast<uint8_t>(~Bit(c)); }
  constexpr bool Contains(Compression c) const { return (bits_ & Bit(c)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  friend constexpr bool operator==(CompressionSet, CompressionSet) = default;

 private:
  static constexpr uint8_t Bit(Compression c) {
    return static_cast<uint8_t>(1u << static_cast<unsigned>(c));
  }
  uint8_t bits_ = 0;
};

// A `grpc-accept-encoding` value: "identity" first (always: every receiver accepts uncompressed
// messages), then deflate and gzip if in `accepted` — C-core's and grpc-js's order and spelling,
// e.g. "identity,deflate,gzip".
std::string AcceptEncodingHeader(CompressionSet accepted);

// The algorithms a peer's `grpc-accept-encoding` lists: comma-separated names, spaces/tabs around
// them ignored, names we do not implement ignored. Identity is always included. Never compress
// with an algorithm outside this set; send that message uncompressed instead.
CompressionSet ParseAcceptEncoding(absl::string_view header);

// Compresses one message with a fresh context (identity: a copy). INTERNAL if zlib fails.
absl::StatusOr<std::string> Compress(Compression compression, absl::string_view input);

// Decompresses one message with a fresh context. `max_output` bounds the uncompressed size (the
// receive limit applies to it, service_config.md) and is enforced WHILE inflating: at most
// max_output + 1 bytes are ever produced, in a buffer grown by doubling, so a zip bomb costs
// ~2 x max_output of memory and stops early -> RESOURCE_EXHAUSTED. Corrupt or truncated input, or
// bytes after the end of the compressed stream -> INTERNAL. SIZE_MAX = no limit.
absl::StatusOr<std::string> Decompress(Compression compression, absl::string_view input,
                                       size_t max_output);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_COMPRESSION_H_
