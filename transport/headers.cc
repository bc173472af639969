#include "transport/headers.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "transport/constants.h"
#include "transport/errors.h"

// What Node 20 does with headers, checked by sending header blocks to a Node http2 server (a raw
// HPACK client for duplicates Node's own client refuses to send) and by calling respond(),
// request(), sendTrailers() and additionalHeaders() with each case (see headers_node_oracle_test):
//
// Incoming (toHeaderObject in lib/internal/http2/util.js):
//   - cookie fields are joined with "; " (RFC 9113 8.2.3), also empty ones: "" + "c" -> "; c";
//   - set-cookie is always an array, one element per field;
//   - duplicates of a single-value header keep the FIRST value, silently (the spec says they are
//     "rejected"; only host and content-length duplicates are refused, by nghttp2, which resets the
//     stream with PROTOCOL_ERROR before Node sees them);
//   - any other name: values joined with ", " (empty values too: "", "", "z" -> ", , z");
//   - nghttp2 silently drops fields with a non-token name or a value with CR, LF, NUL, DEL or
//     leading/trailing whitespace; an upper-case name, or te other than "trailers", resets the
//     stream.
//
// Outgoing (mapToHeaders and friends), surprises included:
//   - Node only rejects a SPACE in names (ERR_INVALID_HTTP_TOKEN); other non-token names pass in
//     respond()/sendTrailers() and the peer drops the field; request() destroys the whole session
//     with ERR_INVALID_HTTP_TOKEN. We reject every non-token name with ERR_INVALID_HTTP_TOKEN.
//   - Node never checks values; the peer drops a field whose value has CR/LF/NUL. We reject such
//     values with ERR_INVALID_CHAR, Node's HTTP/1 error ('Invalid character in header content
//     ["name"]'), using Node's HTTP/1 character rule.
//   - respond() coerces :status with JS `value | 0 || 200`: "abc" -> 200, " 204 " -> 204,
//     "0x1f4" -> 500, two values -> "204,205" -> NaN -> 200; then 200..599 or
//     ERR_HTTP2_STATUS_INVALID. 101 in respond() is ERR_HTTP2_STATUS_INVALID, not
//     ERR_HTTP2_STATUS_101 (that one is additionalHeaders()' only).
//   - additionalHeaders() accepts a block without :status (the peer then resets the stream).
//   - request() accepts :status (the peer resets the stream); te is allowed only as exactly one
//     value "trailers" (case-sensitive).

namespace h2rpc::transport {
namespace {

// Debian's Abseil is built with its own absl::string_view (not std::string_view): convert.
absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }
bool hasUpperCase(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
}
// Lower-cases only when needed: names almost always arrive lower-case (HTTP/2 requires it, and
// nghttp2 resets a stream whose request has an upper-case name), so the common case is a copy.
std::string lowerCase(std::string_view s) {
  if (!hasUpperCase(s)) return std::string(s);
  return absl::AsciiStrToLower(AbslView(s));
}
// Whether a stored (lower-case) name is `query`, matched case-insensitively, without building a
// lower-cased copy of the query (Headers lookups run several times per request).
bool sameName(std::string_view stored, std::string_view query) {
  if (stored.size() != query.size()) return false;
  for (size_t i = 0; i < stored.size(); ++i) {
    if (stored[i] != absl::ascii_tolower(static_cast<unsigned char>(query[i]))) return false;
  }
  return true;
}
// The values of one name: nearly always one, kept in place.
using Values = absl::InlinedVector<std::string_view, 1>;

// Joins values with `separator`, as JS String(array) (",") or Node's header joins do.
std::string join(const Values& values, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.append(separator);
    out.append(values[i]);
  }
  return out;
}

// Node's kSingleValueHeaders (lib/internal/http2/util.js).
namespace c = constants;
// clang-format off
constexpr std::string_view kSingleValueHeaders[] = {
    c::HTTP2_HEADER_STATUS, c::HTTP2_HEADER_METHOD, c::HTTP2_HEADER_AUTHORITY,
    c::HTTP2_HEADER_SCHEME, c::HTTP2_HEADER_PATH, c::HTTP2_HEADER_PROTOCOL,
    c::HTTP2_HEADER_ACCESS_CONTROL_ALLOW_CREDENTIALS, c::HTTP2_HEADER_ACCESS_CONTROL_MAX_AGE,
    c::HTTP2_HEADER_ACCESS_CONTROL_REQUEST_METHOD, c::HTTP2_HEADER_AGE,
    c::HTTP2_HEADER_AUTHORIZATION, c::HTTP2_HEADER_CONTENT_ENCODING,
    c::HTTP2_HEADER_CONTENT_LANGUAGE, c::HTTP2_HEADER_CONTENT_LENGTH,
    c::HTTP2_HEADER_CONTENT_LOCATION, c::HTTP2_HEADER_CONTENT_MD5, c::HTTP2_HEADER_CONTENT_RANGE,
    c::HTTP2_HEADER_CONTENT_TYPE, c::HTTP2_HEADER_DATE, c::HTTP2_HEADER_DNT, c::HTTP2_HEADER_ETAG,
    c::HTTP2_HEADER_EXPIRES, c::HTTP2_HEADER_FROM, c::HTTP2_HEADER_HOST, c::HTTP2_HEADER_IF_MATCH,
    c::HTTP2_HEADER_IF_MODIFIED_SINCE, c::HTTP2_HEADER_IF_NONE_MATCH, c::HTTP2_HEADER_IF_RANGE,
    c::HTTP2_HEADER_IF_UNMODIFIED_SINCE, c::HTTP2_HEADER_LAST_MODIFIED, c::HTTP2_HEADER_LOCATION,
    c::HTTP2_HEADER_MAX_FORWARDS, c::HTTP2_HEADER_PROXY_AUTHORIZATION, c::HTTP2_HEADER_RANGE,
    c::HTTP2_HEADER_REFERER, c::HTTP2_HEADER_RETRY_AFTER, c::HTTP2_HEADER_TK,
    c::HTTP2_HEADER_UPGRADE_INSECURE_REQUESTS, c::HTTP2_HEADER_USER_AGENT,
    c::HTTP2_HEADER_X_CONTENT_TYPE_OPTIONS};
// clang-format on

// Node's kValidPseudoHeaders: the pseudo-headers RFC 9113 and RFC 8441 define.
bool isValidPseudoHeader(std::string_view name) {
  return name == c::HTTP2_HEADER_STATUS || name == c::HTTP2_HEADER_METHOD ||
         name == c::HTTP2_HEADER_AUTHORITY || name == c::HTTP2_HEADER_SCHEME ||
         name == c::HTTP2_HEADER_PATH || name == c::HTTP2_HEADER_PROTOCOL;
}

// Node's isIllegalConnectionSpecificHeader. `values` are all the values of `name`: with several,
// Node compares an array with 'trailers', which is never equal.
bool isIllegalConnectionSpecificHeader(std::string_view name,
                                       const Values& values) {
  if (name == c::HTTP2_HEADER_TE) return values.size() != 1 || values[0] != "trailers";
  return name == c::HTTP2_HEADER_CONNECTION || name == c::HTTP2_HEADER_UPGRADE ||
         name == c::HTTP2_HEADER_HTTP2_SETTINGS || name == c::HTTP2_HEADER_KEEP_ALIVE ||
         name == c::HTTP2_HEADER_PROXY_CONNECTION || name == c::HTTP2_HEADER_TRANSFER_ENCODING;
}

// JavaScript's `String(value) | 0` (ToNumber then ToInt32), which Node applies to :status.
// Handles what ToNumber accepts: surrounding whitespace (ASCII only here), "", decimal with
// fraction and exponent, 0x/0o/0b integers, Infinity; anything else is NaN, i.e. 0.
int32_t jsStringToInt32(std::string_view s) {
  absl::string_view stripped = absl::StripAsciiWhitespace(AbslView(s));
  s = std::string_view(stripped.data(), stripped.size());
  double number = 0;
  if (s.empty()) {
    number = 0;
  } else if (s.size() > 2 && s[0] == '0' && std::string_view("xXoObB").find(s[1]) != s.npos) {
    const int base = (s[1] == 'x' || s[1] == 'X') ? 16 : (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
    for (char ch : s.substr(2)) {
      int digit = absl::ascii_isdigit(ch)   ? ch - '0'
                  : absl::ascii_isalpha(ch) ? absl::ascii_tolower(ch) - 'a' + 10
                                            : 99;
      if (digit >= base) return 0;
      number = number * base + digit;
    }
  } else {
    std::string_view body = s;
    if (body[0] == '+' || body[0] == '-') body.remove_prefix(1);
    if (body == "Infinity") return 0;
    // Decimal literal: digits [. digits] or . digits, then an optional exponent.
    size_t i = 0, intDigits = 0, fracDigits = 0;
    while (i < body.size() && absl::ascii_isdigit(body[i])) ++i, ++intDigits;
    if (i < body.size() && body[i] == '.') {
      ++i;
      while (i < body.size() && absl::ascii_isdigit(body[i])) ++i, ++fracDigits;
    }
    if (intDigits + fracDigits == 0) return 0;
    if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
      ++i;
      if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
      size_t expDigits = 0;
      while (i < body.size() && absl::ascii_isdigit(body[i])) ++i, ++expDigits;
      if (expDigits == 0) return 0;
    }
    if (i != body.size()) return 0;
    // Locale-independent, unlike strtod; out of range gives +-inf, as in JS.
    if (!absl::SimpleAtod(AbslView(s), &number)) return 0;
  }
  if (!std::isfinite(number)) return 0;
  double wrapped = std::fmod(std::trunc(number), 4294967296.0);
  if (wrapped < 0) wrapped += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(wrapped));
}

// The fields of one name, in the order of the name's first appearance: what Node iterates over
// (the keys of the headers object, each with a string or an array value).
struct Group {
  std::string_view name;
  Values values;
};

std::vector<Group> groupByName(const Headers& headers) {
  std::vector<Group> groups;
  groups.reserve(headers.size() + 1);  // + a defaulted :status
  for (const HeaderField& field : headers) {
    if (field.name.empty()) continue;  // Node skips the key ''.
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group& g) { return g.name == field.name; });
    if (it == groups.end()) {
      groups.push_back({field.name, {field.value}});
    } else {
      it->values.push_back(field.value);
    }
  }
  return groups;
}

Group* findGroup(std::vector<Group>& groups, std::string_view name) {
  for (Group& g : groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

absl::Status invalidArgument(std::string_view nodeCode, std::string_view message) {
  return nodeError(absl::StatusCode::kInvalidArgument, nodeCode, message);
}

absl::Status invalidPseudoHeader(std::string_view name) {
  return invalidArgument(
      "ERR_HTTP2_INVALID_PSEUDOHEADER",
      absl::StrCat("\"", AbslView(name), "\" is an invalid pseudoheader or is used incorrectly"));
}

// request(): every pseudo-header is checked before anything else, then the CONNECT rules.
absl::Status checkRequest(std::vector<Group>& groups) {
  for (const Group& g : groups) {
    if (g.name[0] == ':' && !isValidPseudoHeader(g.name)) return invalidPseudoHeader(g.name);
  }
  const Group* method = findGroup(groups, c::HTTP2_HEADER_METHOD);
  bool connect =
      method && method->values.size() == 1 && method->values[0] == c::HTTP2_METHOD_CONNECT;
  if (!connect || findGroup(groups, c::HTTP2_HEADER_PROTOCOL)) return absl::OkStatus();
  if (!findGroup(groups, c::HTTP2_HEADER_AUTHORITY)) {
    return invalidArgument("ERR_HTTP2_CONNECT_AUTHORITY",
                           ":authority header is required for CONNECT requests");
  }
  if (findGroup(groups, c::HTTP2_HEADER_SCHEME)) {
    return invalidArgument("ERR_HTTP2_CONNECT_SCHEME",
                           "The :scheme header is forbidden for CONNECT requests");
  }
  if (findGroup(groups, c::HTTP2_HEADER_PATH)) {
    return invalidArgument("ERR_HTTP2_CONNECT_PATH",
                           "The :path header is forbidden for CONNECT requests");
  }
  return absl::OkStatus();
}

// respond() (processHeaders) and additionalHeaders(): coerce :status like JS and check its range.
// On success `statusText` holds the value to send and the :status group points at it.
absl::Status checkStatus(std::vector<Group>& groups, HeadersKind kind, std::string& statusText) {
  Group* status = findGroup(groups, c::HTTP2_HEADER_STATUS);
  if (kind == HeadersKind::kInfo && status == nullptr) return absl::OkStatus();
  // Several values are a JS array, whose String() joins them with ",".
  int32_t code = status ? jsStringToInt32(join(status->values, ",")) : 0;
  if (kind == HeadersKind::kResponse) {
    if (code == 0) code = 200;
    if (code < 200 || code > 599) {
      return invalidArgument("ERR_HTTP2_STATUS_INVALID",
                             absl::StrCat("Invalid status code: ", code));
    }
  } else {
    if (code == 101) {
      return invalidArgument("ERR_HTTP2_STATUS_101",
                             "HTTP status code 101 (Switching Protocols) is forbidden in HTTP/2");
    }
    if (code < 100 || code >= 200) {
      return invalidArgument("ERR_HTTP2_INVALID_INFO_STATUS",
                             absl::StrCat("Invalid informational status code: ", code));
    }
  }
  statusText = absl::StrCat(code);
  if (status == nullptr) {
    // Built in place: moving in a temporary Group made g++ -O1 (--config=tsan) warn
    // -Wmaybe-uninitialized about the empty InlinedVector's unused inline storage.
    status = &groups.emplace_back();
    status->name = c::HTTP2_HEADER_STATUS;
  }
  status->values = {statusText};
  return absl::OkStatus();
}

bool pseudoHeaderAllowed(std::string_view name, HeadersKind kind) {
  switch (kind) {
    case HeadersKind::kRequest:
      return isValidPseudoHeader(name);
    case HeadersKind::kResponse:
    case HeadersKind::kInfo:
      return name == c::HTTP2_HEADER_STATUS;
    case HeadersKind::kTrailers:
      return false;
  }
  return false;
}

}  // namespace

Headers::Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  for (const auto& [name, value] : fields) add(name, value);
}

Headers& Headers::add(std::string_view name, std::string_view value) {
  fields_.push_back({lowerCase(name), std::string(value)});
  return *this;
}

Headers& Headers::set(std::string_view name, std::string_view value) {
  auto first = std::find_if(fields_.begin(), fields_.end(),
                            [&](const HeaderField& f) { return sameName(f.name, name); });
  if (first == fields_.end()) {
    fields_.push_back({lowerCase(name), std::string(value)});
    return *this;
  }
  first->value = std::string(value);
  fields_.erase(std::remove_if(std::next(first), fields_.end(),
                               [&](const HeaderField& f) { return sameName(f.name, name); }),
                fields_.end());
  return *this;
}

size_t Headers::remove(std::string_view name) {
  return std::erase_if(fields_, [&](const HeaderField& f) { return sameName(f.name, name); });
}

bool Headers::has(std::string_view name) const {
  return std::any_of(fields_.begin(), fields_.end(),
                     [&](const HeaderField& f) { return sameName(f.name, name); });
}

std::optional<std::string> Headers::get(std::string_view name) const {
  std::string storage;
  std::optional<std::string_view> value = get(name, storage);
  if (!value) return std::nullopt;
  if (value->data() == storage.data()) return storage;
  return std::string(*value);
}

std::optional<std::string_view> Headers::get(std::string_view name, std::string& storage) const {
  const HeaderField* first = nullptr;
  size_t count = 0;
  for (const HeaderField& f : fields_) {
    if (!sameName(f.name, name)) continue;
    if (first == nullptr) first = &f;
    ++count;
  }
  if (first == nullptr) return std::nullopt;
  // One field (the usual case), or a single-value header whose first field wins: a view.
  if (count == 1 || isSingleValueHeader(first->name)) return std::string_view(first->value);
  const std::string_view separator = first->name == c::HTTP2_HEADER_COOKIE ? "; " : ", ";
  storage.clear();
  bool any = false;
  for (const HeaderField& f : fields_) {
    if (!sameName(f.name, name)) continue;
    if (any) storage.append(separator);
    storage.append(f.value);
    any = true;
  }
  return std::string_view(storage);
}

std::vector<std::string> Headers::getAll(std::string_view name) const {
  std::vector<std::string> values;
  for (const HeaderField& f : fields_) {
    if (sameName(f.name, name)) values.push_back(f.value);
  }
  return values;
}

Headers& Headers::setSensitive(std::string_view name) {
  if (!isSensitive(name)) sensitive_.push_back(lowerCase(name));
  return *this;
}

bool Headers::isSensitive(std::string_view name) const {
  return std::any_of(sensitive_.begin(), sensitive_.end(),
                     [&](const std::string& s) { return sameName(s, name); });
}

std::string Headers::toString() const {
  std::string out = "{";
  for (const HeaderField& f : fields_) {
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", "\"", absl::CEscape(f.name), "\": \"",
                    absl::CEscape(f.value), "\"");
  }
  out += "}";
  if (!sensitive_.empty())
    absl::StrAppend(&out, " sensitive=[", absl::StrJoin(sensitive_, ", "), "]");
  return out;
}

bool operator==(const Headers& a, const Headers& b) {
  if (a.fields_ != b.fields_ || a.sensitive_.size() != b.sensitive_.size()) return false;
  return std::all_of(a.sensitive_.begin(), a.sensitive_.end(),
                     [&](const std::string& name) { return b.isSensitive(name); });
}

bool isSingleValueHeader(std::string_view name) {
  return std::find(std::begin(kSingleValueHeaders), std::end(kSingleValueHeaders), name) !=
         std::end(kSingleValueHeaders);
}

bool isValidHeaderName(std::string_view name) {
  static constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return absl::ascii_isalnum(ch) || kTokenPunctuation.find(ch) != std::string_view::npos;
  });
}

bool isValidHeaderValue(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char ch) {
    auto byte = static_cast<unsigned char>(ch);
    return byte == '\t' || (byte >= 0x20 && byte != 0x7f);
  });
}

absl::StatusOr<std::vector<OutgoingField>> prepareOutgoingHeaders(const Headers& headers,
                                                                  HeadersKind kind) {
  std::vector<Group> groups = groupByName(headers);
  std::string statusText;  // owns the coerced :status the groups point at
  if (kind == HeadersKind::kRequest) {
    if (absl::Status s = checkRequest(groups); !s.ok()) return s;
  } else if (kind == HeadersKind::kResponse || kind == HeadersKind::kInfo) {
    if (absl::Status s = checkStatus(groups, kind, statusText); !s.ok()) return s;
  }

  // mapToHeaders: the checks run per name, in order; the first failure is reported.
  std::vector<OutgoingField> pseudo, regular;
  pseudo.reserve(headers.size() + 1);
  regular.reserve(headers.size());
  for (const Group& g : groups) {
    const bool single = isSingleValueHeader(g.name);
    if (single && g.values.size() > 1) {
      return invalidArgument(
          "ERR_HTTP2_HEADER_SINGLE_VALUE",
          absl::StrCat("Header field \"", AbslView(g.name), "\" must only have a single value"));
    }
    const bool isPseudo = g.name[0] == ':';
    if (isPseudo && !pseudoHeaderAllowed(g.name, kind)) return invalidPseudoHeader(g.name);
    if (!isPseudo && !isValidHeaderName(g.name)) {
      return invalidArgument(
          "ERR_INVALID_HTTP_TOKEN",
          absl::StrCat("Header name must be a valid HTTP token [\"", AbslView(g.name), "\"]"));
    }
    if (!isPseudo && isIllegalConnectionSpecificHeader(g.name, g.values)) {
      return invalidArgument("ERR_HTTP2_INVALID_CONNECTION_HEADERS",
                             absl::StrCat("HTTP/1 Connection specific headers are forbidden: \"",
                                          AbslView(g.name), "\""));
    }
    for (std::string_view value : g.values) {
      if (!isValidHeaderValue(value)) {
        return invalidArgument(
            "ERR_INVALID_CHAR",
            absl::StrCat("Invalid character in header content [\"", AbslView(g.name), "\"]"));
      }
    }
    const bool neverIndex = headers.isSensitive(g.name);
    for (std::string_view value : g.values) {
      (isPseudo ? pseudo : regular)
          .push_back({std::string(g.name), std::string(value), neverIndex});
    }
  }
  pseudo.insert(pseudo.end(), std::make_move_iterator(regular.begin()),
                std::make_move_iterator(regular.end()));
  return pseudo;
}

size_t headerBlockLength(const std::vector<OutgoingField>& fields) {
  size_t length = 0;
  for (const OutgoingField& f : fields) length += f.name.size() + f.value.size() + 32;
  return length;
}

size_t headerBlockBound(const std::vector<OutgoingField>& fields) {
  // nghttp2_hd_deflate_bound(): 12 bytes for two possible table size updates, then name, value
  // and 12 bytes of representation overhead per field (headers_test compares with nghttp2's);
  // nghttp2's session adds NGHTTP2_PRIORITY_SPECLEN (5) for every HEADERS frame it estimates.
  size_t bound = 12 + 5;
  for (const OutgoingField& f : fields) bound += f.name.size() + f.value.size() + 12;
  return bound;
}

}  // namespace h2rpc::transport
