// parseAuthority(): the part of the WHATWG URL parser (Node's `new URL()`) that http2.connect()
// relies on, for the special schemes http and https. Node 20 is the oracle for every rule here
// (session_fidelity_test.cc, ConnectUrlParsingFollowsWhatwg); what we leave out is in
// transport/README.md's deviations table (IDNA for non-ASCII hosts, port 0).
#include <arpa/inet.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "transport/authority.h"
#include "transport/errors.h"

namespace h2rpc::transport {

namespace {

bool isC0OrSpace(char c) { return static_cast<unsigned char>(c) <= 0x20; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isAlnum(char c) { return isAlpha(c) || (c >= '0' && c <= '9'); }
void toLower(std::string& s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

std::vector<std::string_view> splitDots(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t dot; (dot = s.find('.', start)) != std::string_view::npos; start = dot + 1) {
    parts.push_back(s.substr(start, dot - start));
  }
  parts.push_back(s.substr(start));
  return parts;
}

// WHATWG "forbidden domain code point" (ASCII only: non-ASCII hosts are refused before).
bool forbiddenInDomain(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u == 0x7f) return true;
  return std::string_view("#%/:<>?@[\\]^|").find(c) != std::string_view::npos;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// WHATWG percent-decode: "%XY" with two hex digits becomes the byte, anything else stays.
std::string percentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && hexValue(in[i + 1]) >= 0 &&
        hexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(in[i + 1]) * 16 + hexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// WHATWG IPv4 number: decimal, 0x hex (may be empty: "0x" is 0) or 0-prefixed octal.
std::optional<uint64_t> ipv4Number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int radix = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    radix = 16;
    s.remove_prefix(2);
  } else if (s.size() >= 2 && s[0] == '0') {
    radix = 8;
    s.remove_prefix(1);
  }
  uint64_t n = 0;
  for (char c : s) {
    const int d = hexValue(c);
    if (d < 0 || d >= radix) return std::nullopt;
    n = n * radix + d;
    if (n > 0xffffffffULL * 256) n = 0xffffffffULL * 256;  // saturate: too large either way
  }
  return n;
}

// WHATWG "ends in a number": the last label (after dropping one empty last label) is all digits
// or a 0x number.
bool endsInANumber(std::string_view host) {
  std::vector<std::string_view> parts = splitDots(host);
  if (parts.back().empty()) {
    if (parts.size() == 1) return false;
    parts.pop_back();
  }
  std::string_view last = parts.back();
  if (!last.empty() && last.find_first_not_of("0123456789") == std::string_view::npos) return true;
  return ipv4Number(last).has_value() && last.size() >= 2 && last[0] == '0' &&
         (last[1] == 'x' || last[1] == 'X');
}

// WHATWG IPv4 parser; the dotted-decimal serialization, or nullopt for a failure.
std::optional<std::string> parseIpv4(std::string_view host) {
  std::vector<std::string_view> parts = splitDots(host);
  if (parts.back().empty() && parts.size() > 1) parts.pop_back();
  if (parts.size() > 4) return std::nullopt;
  std::vector<uint64_t> numbers;
  for (std::string_view p : parts) {
    auto n = ipv4Number(p);
    if (!n) return std::nullopt;
    numbers.push_back(*n);
  }
  for (size_t i = 0; i + 1 < numbers.size(); ++i) {
    if (numbers[i] > 255) return std::nullopt;
  }
  const uint64_t limit = uint64_t{1} << (8 * (5 - numbers.size()));
  if (numbers.back() >= limit) return std::nullopt;
  uint64_t address = numbers.back();
  for (size_t i = 0; i + 1 < numbers.size(); ++i) address += numbers[i] << (8 * (3 - i));
  return absl::StrCat(address >> 24, ".", (address >> 16) & 0xff, ".", (address >> 8) & 0xff,
                      ".", address & 0xff);
}

// An IPv6 address as WHATWG serializes it: lower-case hex pieces, the first longest run of two
// or more zero pieces compressed to "::", never a dotted IPv4 tail.
std::optional<std::string> parseIpv6(std::string_view text) {
  unsigned char bytes[16];
  if (inet_pton(AF_INET6, std::string(text).c_str(), bytes) != 1) return std::nullopt;
  uint16_t pieces[8];
  for (int i = 0; i < 8; ++i) pieces[i] = static_cast<uint16_t>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (pieces[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && pieces[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += i == 0 ? "::" : ":";
      i += best_len - 1;
      continue;
    }
    absl::StrAppend(&out, absl::Hex(pieces[i]));
    if (i != 7) out += ':';
  }
  return out;
}

}  // namespace

std::string Authority::hostPort() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

absl::StatusOr<Authority> parseAuthority(std::string_view url_in) {
  auto invalid = [&] {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_URL",
                     absl::StrCat("Invalid URL: ", std::string(url_in)));
  };
  // Leading and trailing C0 controls and spaces go, and every tab and newline.
  std::string_view trimmed = url_in;
  while (!trimmed.empty() && isC0OrSpace(trimmed.front())) trimmed.remove_prefix(1);
  while (!trimmed.empty() && isC0OrSpace(trimmed.back())) trimmed.remove_suffix(1);
  std::string url;
  for (char c : trimmed) {
    if (c != '\t' && c != '\n' && c != '\r') url.push_back(c);
  }
  // scheme ":" — an ASCII letter, then letters, digits, '+', '-', '.'; case-insensitive.
  size_t colon = 0;
  if (url.empty() || !isAlpha(url[0])) return invalid();
  while (colon < url.size() && url[colon] != ':') {
    const char c = url[colon];
    if (!isAlnum(c) && c != '+' && c != '-' && c != '.') {
      return invalid();
    }
    ++colon;
  }
  if (colon == url.size()) return invalid();  // no scheme: a relative URL, and there is no base
  Authority a;
  a.scheme = url.substr(0, colon);
  toLower(a.scheme);
  if (a.scheme == "http") {
    a.port = 80;
  } else if (a.scheme == "https") {
    a.port = 443;
  } else {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_UNSUPPORTED_PROTOCOL",
                     absl::StrCat("protocol \"", a.scheme, ":\" is unsupported."));
  }
  // Special schemes: any run of '/' and '\' after the colon, then the authority up to the path,
  // query or fragment.
  std::string_view rest = std::string_view(url).substr(colon + 1);
  while (!rest.empty() && (rest.front() == '/' || rest.front() == '\\')) rest.remove_prefix(1);
  rest = rest.substr(0, rest.find_first_of("/\\?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (rest.empty()) return invalid();

  std::string_view host_text, port_text;
  bool has_port = false;
  if (rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return invalid();
    host_text = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid();
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const size_t c = rest.find(':');
    host_text = rest.substr(0, c);
    if (c != std::string_view::npos) {
      has_port = true;
      port_text = rest.substr(c + 1);
    }
  }
  if (host_text.empty()) return invalid();
  if (has_port && !port_text.empty()) {
    if (port_text.find_first_not_of("0123456789") != std::string_view::npos) return invalid();
    uint32_t port = 0;
    for (char c : port_text) {
      port = port * 10 + static_cast<uint32_t>(c - '0');
      if (port > 65535) return invalid();
    }
    // WHATWG accepts port 0 (Node then fails to connect); refusing it is clearer.
    if (port == 0) return invalid();
    a.port = static_cast<uint16_t>(port);
  }

  if (host_text.front() == '[') {
    if (host_text.back() != ']') return invalid();
    auto v6 = parseIpv6(host_text.substr(1, host_text.size() - 2));
    if (!v6) return invalid();
    a.host = *v6;
    return a;
  }
  std::string host = percentDecode(host_text);
  for (char c : host) {
    // Non-ASCII needs IDNA (UTS #46), which we do not implement: give the A-label ("xn--").
    if (static_cast<unsigned char>(c) >= 0x80 || forbiddenInDomain(c)) return invalid();
  }
  toLower(host);
  if (endsInANumber(host)) {
    auto v4 = parseIpv4(host);
    if (!v4) return invalid();
    host = *v4;
  }
  a.host = std::move(host);
  return a;
}

}  // namespace h2rpc::transport

namespace h2rpc::transport {

absl::StatusOr<std::string> urlOrigin(std::string_view url) {
  absl::StatusOr<Authority> a = parseAuthority(url);
  if (!a.ok()) return a.status();
  const bool default_port = a->port == (a->scheme == "https" ? 443 : 80);
  const bool v6 = a->host.find(':') != std::string::npos;
  std::string host = v6 ? absl::StrCat("[", a->host, "]") : a->host;
  if (default_port) return absl::StrCat(a->scheme, "://", host);
  return absl::StrCat(a->scheme, "://", host, ":", a->port);
}

}  // namespace h2rpc::transport
