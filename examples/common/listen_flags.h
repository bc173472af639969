// examples/common/listen_flags.h — what the example servers and clients do with their
// --listen/--host/--port/--tls_cert/--tls_key and --target/--ca_file flags, in one place.
//
// Threading: the loop's thread (they call rpc::Server and rpc::Channel). Lifetime: nothing kept.
#ifndef H2RPC_EXAMPLES_COMMON_LISTEN_FLAGS_H_
#define H2RPC_EXAMPLES_COMMON_LISTEN_FLAGS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "rpc/client_call.h"
#include "rpc/server.h"

namespace h2rpc::examples {

struct ServerFlags {
  std::string listen;  // "host:port", "unix:path", ...: wins over host/port when set
  std::string host;
  int port = 0;
  std::string tls_cert, tls_key;  // both or neither: TLS (ALPN h2) instead of h2c
  // With TLS: require a client certificate signed by this CA (mTLS).
  std::string tls_client_ca{};  // {}: callers may leave it out of their braces
};

// Listens as the flags say; returns what to print after "listening on " ("127.0.0.1:50051",
// "[::]:50051", "unix:/tmp/x.sock").
inline absl::StatusOr<std::string> ListenFromFlags(rpc::Server& server, const ServerFlags& f) {
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!f.tls_client_ca.empty() && f.tls_cert.empty()) {
    return absl::InvalidArgumentError("--tls_client_ca needs --tls_cert and --tls_key");
  }
  std::string address = f.listen;
  if (address.empty()) {
    if (f.port < 0 || f.port > 65535) return absl::InvalidArgumentError("--port: 0 to 65535");
    const bool v6 = f.host.find(':') != std::string::npos;
    address = absl::StrCat(v6 ? "[" : "", f.host, v6 ? "]" : "", ":", f.port);
  }
  absl::Status st;
  if (!f.tls_cert.empty()) {
    transport::TlsOptions tls;
    tls.certFile = f.tls_cert;
    tls.keyFile = f.tls_key;
    if (!f.tls_client_ca.empty()) {
      tls.requestCert = true;  // rejectUnauthorized stays true: no valid certificate, no call
      tls.caFile = f.tls_client_ca;
    }
    st = server.ListenTls(address, tls);
  } else {
    st = server.Listen(address);
  }
  if (!st.ok()) return st;
  if (!server.path().empty()) {
    const std::string& p = server.path();
    return p.front() == '\0' ? absl::StrCat("unix-abstract:", p.substr(1))
                             : absl::StrCat("unix:", p);
  }
  // The address as given with the port bound (port 0 picks one).
  auto parsed = rpc::ParseListenAddress(address);
  const std::string host = parsed.ok() ? parsed->host : f.host;
  const bool v6 = host.empty() || host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host.empty() ? "::" : host, v6 ? "]" : "", ":",
                      server.port());
}

// --ca_file: TLS, verifying the server with that CA. Without it: cleartext (h2c).
// --tls_client_cert/--tls_client_key: this client's certificate, for a server asking for one.
inline rpc::ChannelOptions ChannelOptionsFromFlags(const std::string& ca_file,
                                                   const std::string& client_cert = "",
                                                   const std::string& client_key = "") {
  rpc::ChannelOptions options;
  if (!ca_file.empty()) {
    options.use_tls = true;
    options.tls.caFile = ca_file;
    options.tls.certFile = client_cert;
    options.tls.keyFile = client_key;
  }
  return options;
}

}  // namespace h2rpc::examples

#endif  // H2RPC_EXAMPLES_COMMON_LISTEN_FLAGS_H_
