// transport/authority.h — the URL reading behind http2.connect() and the origins of ALTSVC
// and ORIGIN frames: parseAuthority() (Node 20's `new URL()` for http/https), defaultAuthority()
// and the origin a URL serialises to.
//
// Threading: pure functions, any thread. Lifetime: plain values.
#ifndef H2RPC_TRANSPORT_AUTHORITY_H_
#define H2RPC_TRANSPORT_AUTHORITY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace h2rpc::transport {

struct Authority {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets
  uint16_t port = 0;
  std::string hostPort() const;  // "host:port", brackets around IPv6
};
// The URL as Node 20's `new URL()` reads it (WHATWG; special schemes: tabs and newlines
// dropped, any mix of '/' and '\\' after the colon, userinfo ignored, host lower-cased and
// percent-decoded, IPv4 in any WHATWG form such as 127.1 or 0x7f.1 normalised, IPv6
// compressed). Errors: ERR_INVALID_URL; ERR_HTTP2_UNSUPPORTED_PROTOCOL for a scheme other
// than http/https (as Node's connect()). Unlike Node: port 0 and non-ASCII hosts (IDNA) are
// ERR_INVALID_URL (README, "Deviations from Node 20").
absl::StatusOr<Authority> parseAuthority(std::string_view url);
// connect()'s default :authority, as Node's: `${servername || host}:${port}`, the port always
// (":80" and ":443" too); an IPv6 host in brackets (Node leaves them out).
std::string defaultAuthority(const Authority& parsed, std::string_view servername = {});
// `new URL(url).origin` for http/https URLs: "scheme://host" plus ":port" unless it is the
// scheme's default (IPv6 hosts in brackets). parseAuthority()'s errors.
absl::StatusOr<std::string> urlOrigin(std::string_view url);

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_AUTHORITY_H_
