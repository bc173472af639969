// gRPC custom metadata (doc/PROTOCOL-HTTP2.md "Custom-Metadata"; notes §1): an ordered multimap of
// lower-case keys to values, and its conversion to and from HTTP/2 header fields.
//
// Keys are `[0-9a-z_.-]+` (stored lower-cased). A key ending in "-bin" holds raw bytes, sent
// base64-encoded; any other key holds a printable-ASCII value (%x20-%x7E) sent as is.
//
// Threading: a plain value; use one Metadata from one thread at a time (concurrent const use is
// fine). Lifetime: owns its strings; iterators are invalidated by Add and Remove, like
// std::vector's.
#ifndef H2RPC_RPC_METADATA_H_
#define H2RPC_RPC_METADATA_H_

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace h2rpc::rpc {

class Metadata {
 public:
  // (key, value); for a -bin key the value is the raw bytes, not base64.
  using Entry = std::pair<std::string, std::string>;
  using value_type = Entry;
  using const_iterator = std::vector<Entry>::const_iterator;

  // `key` (already lower-case) matches [0-9a-z_.-]+.
  static bool IsValidKey(absl::string_view key);
  // `key` ends in "-bin": its values are bytes, base64 on the wire.
  static bool IsBinaryKey(absl::string_view key);
  // `key` starts with "grpc-": reserved for gRPC itself (grpc-status, grpc-timeout...).
  static bool IsReservedKey(absl::string_view key);
  // A value a non-binary key may carry: printable ASCII, %x20-%x7E.
  static bool IsValidAsciiValue(absl::string_view value);

  // Appends (key lower-cased) after any earlier values of the same key. INVALID_ARGUMENT if the
  // key is not [0-9a-zA-Z_.-]+, is reserved (grpc-*: applications must not set those; the library
  // writes them itself), or is not -bin and the value is not printable ASCII.
  absl::Status Add(absl::string_view key, absl::string_view value);

  // Every value of `key` (matched case-insensitively), in insertion order.
  std::vector<std::string> Get(absl::string_view key) const;
  // The first value of `key`, or nullopt.
  std::optional<std::string> GetFirst(absl::string_view key) const;
  bool Contains(absl::string_view key) const;
  // Removes every value of `key`; returns how many were removed.
  size_t Remove(absl::string_view key);

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }

  // Header fields to send, in order: -bin values base64-encoded without padding (RFC 4648 §4, as
  // the spec asks senders), other values as they are. Every entry was validated when added, so
  // this cannot fail.
  std::vector<Entry> ToWire() const;

  // Metadata from received header fields (names lower-case, as HTTP/2 requires), in order.
  //  * -bin values: split on ',' (Node and HTTP join duplicate fields with ", "), each piece
  //    trimmed of spaces and base64-decoded, padded or not; invalid base64 -> INTERNAL (grpc-go:
  //    "malformed ..." stream error).
  //  * Always skipped: pseudo-headers (":path"...), fields whose name is not a valid key, and
  //    non-binary values that are not printable ASCII (grpc-js drops them too; the spec allows
  //    dropping, and it keeps every kept value echoable by ToWire).
  //  * skip_reserved = true (what applications see) also skips the HTTP/2 and gRPC protocol
  //    fields: every grpc-* name, content-type, te, and the connection-specific fields HTTP/2
  //    forbids (connection, keep-alive, proxy-connection, transfer-encoding, upgrade). user-agent
  //    and other fields are kept, as grpc-go and grpc-js do. skip_reserved = false keeps those
  //    too (grpc-status-details-bin arrives base64-decoded), for the library's own use.
  //  * Non-binary values are kept whole: an ASCII value may itself contain commas.
  static absl::StatusOr<Metadata> FromWire(absl::Span<const Entry> fields, bool skip_reserved);
  // The same from any sequence of fields with `name` and `value` members (transport::Headers),
  // read in place instead of copied into Entries first.
  template <typename Fields>
  static absl::StatusOr<Metadata> FromHeaderFields(const Fields& fields, bool skip_reserved) {
    Metadata metadata;
    for (const auto& field : fields) {
      absl::Status st = metadata.AddFromWire(absl::string_view(field.name.data(), field.name.size()),
                                             absl::string_view(field.value.data(), field.value.size()),
                                             skip_reserved);
      if (!st.ok()) return st;
    }
    return metadata;
  }

  friend bool operator==(const Metadata&, const Metadata&) = default;

 private:
  // One received field, by FromWire's rules.
  absl::Status AddFromWire(absl::string_view name, absl::string_view value, bool skip_reserved);

  std::vector<Entry> entries_;
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_METADATA_H_
