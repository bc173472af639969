// Headers: Node's HTTP/2 headers object as an ordered list of fields (Node's headers object and its
// rawHeaders in one value), and prepareOutgoingHeaders(), the checks Node runs before it hands a
// header block to nghttp2 (mapToHeaders, assertValidPseudoHeader*, the :status rules of respond()
// and additionalHeaders(), the CONNECT rules of request()).
//
// Threading: plain values; a Headers may be used from any thread, but not concurrently mutated.
// Lifetime: Headers owns its strings; iterators and raw() references are invalidated by add, set
// and remove, like std::vector's.
// Memory: the field vector is a BlockPool block (HeaderFields below), so that a header block
// received per request reuses a dropped one's memory instead of a malloc each; BlockPool's
// per-thread bound and thread-exit drain cover it, and under ASan it is plain heap (a view into
// destroyed headers stays a reported error).
//
// Names are lower-cased when stored (HTTP/2 sends them lower-case; Node lower-cases object keys).
// A name given several values is Node's array value: add("x", "1"); add("x", "2") is {x:
// ['1','2']}.
#ifndef H2RPC_TRANSPORT_HEADERS_H_
#define H2RPC_TRANSPORT_HEADERS_H_

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "transport/block_pool.h"

namespace h2rpc::transport {

struct HeaderField {
  std::string name{};
  std::string value{};
  bool operator==(const HeaderField&) const = default;
};

// The fields of a Headers, in BlockPool blocks. A received request block (up to 16 fields, as
// the session reserves and then doubles) is one small class.
using HeaderFields = std::vector<HeaderField, BlockPoolAllocator<HeaderField>>;
static_assert(16 * sizeof(HeaderField) <= BlockPool::kMaxSmallSize);

class Headers {
 public:
  using const_iterator = HeaderFields::const_iterator;

  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

  // Appends a field (name lower-cased); earlier fields of the same name are kept.
  Headers& add(std::string_view name, std::string_view value);
  // add() of a name the caller knows is lower-case already (received HTTP/2 headers: nghttp2
  // rejects any other): stored as given, not checked.
  Headers& addLowerCase(std::string_view name, std::string_view value) {
    fields_.push_back({std::string(name), std::string(value)});
    return *this;
  }
  // Replaces every field of that name by one field, kept where the first one was (a JS property
  // assignment keeps the key's place); appended if the name is new.
  Headers& set(std::string_view name, std::string_view value);
  // Removes every field of that name; returns how many were removed.
  size_t remove(std::string_view name);
  bool has(std::string_view name) const;

  // The value Node's *incoming* headers object holds for `name` (see headers.cc for how each rule
  // was checked against Node 20): several fields are joined with ", "; `cookie` with "; ";
  // single-value headers (isSingleValueHeader) keep only the first field; `set-cookie`, which Node
  // keeps as an array, is joined with ", " here (use getAll for the list). nullopt if absent.
  // `:status` is returned as received (Node converts it to a number).
  std::optional<std::string> get(std::string_view name) const;
  // get() without a copy: a view of the one field that holds the value (the usual case), or of
  // the joined value, built in `storage`. Valid until this Headers or `storage` changes.
  std::optional<std::string_view> get(std::string_view name, std::string& storage) const;
  // Every value of `name`, in order (Node's array value for set-cookie and outgoing arrays).
  std::vector<std::string> getAll(std::string_view name) const;
  // The fields in order, names lower-cased (Node's rawHeaders, as pairs).
  const HeaderFields& raw() const { return fields_; }

  // Node's headers[http2.sensitiveHeaders]: the fields of these names are sent never-indexed
  // (HPACK "never indexed" literal). On received headers, the names that came never-indexed.
  Headers& setSensitive(std::string_view name);
  bool isSensitive(std::string_view name) const;
  const std::vector<std::string>& sensitiveHeaders() const { return sensitive_; }

  // Room for `n` fields without reallocating (like std::vector's).
  void reserve(size_t n) { fields_.reserve(n); }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  const_iterator begin() const { return fields_.begin(); }
  const_iterator end() const { return fields_.end(); }

  // For logs and test failures: {"name": "value", ...} in order, values C-escaped, then the
  // sensitive names if any.
  std::string toString() const;

  // Same fields in the same order and the same set of sensitive names.
  friend bool operator==(const Headers& a, const Headers& b);

 private:
  HeaderFields fields_;
  std::vector<std::string> sensitive_;  // lower-cased, no duplicates, in the order given
};

// Node's kSingleValueHeaders: pseudo-headers and headers such as content-type, user-agent, host.
// Expects a lower-case name.
bool isSingleValueHeader(std::string_view name);
// RFC 9110 token (the characters the spec lists for header names); empty is not a token.
bool isValidHeaderName(std::string_view name);
// Node's HTTP/1 header value rule (validateHeaderValue): only HTAB, 0x20-0x7e and 0x80-0xff.
bool isValidHeaderValue(std::string_view value);

enum class HeadersKind {
  kRequest,   // ClientHttp2Session.request(): any of the six pseudo-headers, CONNECT rules
  kResponse,  // ServerHttp2Stream.respond(): only :status, 200..599, defaults to 200
  kTrailers,  // Http2Stream.sendTrailers(): no pseudo-header
  kInfo,      // ServerHttp2Stream.additionalHeaders(): only :status, 100..199 but not 101
};

struct OutgoingField {
  std::string name{};
  std::string value{};
  bool neverIndex = false;  // name is in sensitiveHeaders (nghttp2 adds authorization and cookies
                            // shorter than 20 bytes on its own; those stay false here)
  bool operator==(const OutgoingField&) const = default;
};

// The header block as it will be submitted: pseudo-headers first, each group in the order given,
// one entry per value, or Node's error for the first field it would reject:
//   ERR_HTTP2_INVALID_PSEUDOHEADER, ERR_HTTP2_HEADER_SINGLE_VALUE, ERR_INVALID_HTTP_TOKEN,
//   ERR_HTTP2_INVALID_CONNECTION_HEADERS, ERR_INVALID_CHAR, ERR_HTTP2_STATUS_INVALID,
//   ERR_HTTP2_STATUS_101, ERR_HTTP2_INVALID_INFO_STATUS, ERR_HTTP2_CONNECT_AUTHORITY/SCHEME/PATH
// (all kInvalidArgument). Defaults that need a session (:method, :authority, :scheme, :path of a
// request, the date of a response) are not added here; :status of a response is (200).
absl::StatusOr<std::vector<OutgoingField>> prepareOutgoingHeaders(const Headers& headers,
                                                                  HeadersKind kind);

// Header list size as Node and nghttp2 count it against SETTINGS_MAX_HEADER_LIST_SIZE:
// name + value + 32 per field (RFC 7541 section 4.1).
size_t headerBlockLength(const std::vector<OutgoingField>& fields);
// nghttp2's estimate of the HEADERS payload, which is what Node's maxSendHeaderBlockLength option
// (nghttp2's max_send_header_block_length) is compared with: nghttp2_hd_deflate_bound() plus 5
// bytes for a priority field, i.e. 17 + sum(name + value + 12). When it exceeds the limit Node
// emits 'frameError' (type HEADERS) and the stream closes with NGHTTP2_REFUSED_STREAM.
size_t headerBlockBound(const std::vector<OutgoingField>& fields);

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_HEADERS_H_
