// rpc/auth_context.h — AuthContext: who the peer of a server call is, as its connection's TLS
// established it (gRPC's grpc::AuthContext, as plain fields). A handler reads it through
// ServerContext::auth_context():
//
//   const AuthContext& auth = *ctx.auth_context();
//   if (!auth.peer_authenticated || auth.spiffe_id != "spiffe://example.org/ns/a/sa/b")
//     co_return absl::PermissionDeniedError("not allowed");
//
// Identities come from the certificate the client presented (mTLS: the server listens with
// TlsOptions::requestCert and ca/caFile). peer_authenticated is true only when that certificate
// verified against those CAs; with rejectUnauthorized=false a client without one, or with one
// from another CA, still gets a call, and the fields then describe what it presented
// (unverified: never trust them then) while PeerIdentity() stays empty.
//
// Threading: an immutable value, safe to share. Lifetime: shared_ptr; independent of the call.
#ifndef H2RPC_RPC_AUTH_CONTEXT_H_
#define H2RPC_RPC_AUTH_CONTEXT_H_

#include <memory>
#include <string>
#include <vector>

#include "transport/socket.h"

namespace h2rpc::rpc {

struct AuthContext {
  // gRPC's transport_security_type property: "ssl" over TLS, "insecure" over cleartext.
  std::string transport_security_type = "insecure";
  // The peer presented a certificate that verified (gRPC's IsPeerAuthenticated()).
  bool peer_authenticated = false;
  // Over TLS when not authenticated: why, in Node's words (transport's authorizationError(),
  // e.g. "UNABLE_TO_GET_ISSUER_CERT" when the client sent no certificate).
  std::string authorization_error;
  // From the presented certificate (empty without one).
  std::string subject_common_name;     // gRPC's x509_common_name
  std::vector<std::string> dns_sans;   // subjectAltName DNS names
  std::vector<std::string> uri_sans;   // subjectAltName URIs
  std::vector<std::string> ip_sans;    // subjectAltName IP addresses
  // The SPIFFE ID: the certificate's URI SAN when it has exactly one and it starts with
  // "spiffe://" (the SPIFFE X.509-SVID rule; gRPC's peer_spiffe_id).
  std::string spiffe_id;
  std::string peer_certificate_fingerprint256;  // "AB:CD:..." (Node's format)
  // The connection's TLS: "TLSv1.3", the cipher suite, the SNI the client sent.
  std::string tls_version;
  std::string cipher;
  std::string sni;

  // gRPC's GetPeerIdentity(): the SANs (DNS, then URIs, then IPs) if the certificate has any,
  // else the common name; empty unless peer_authenticated.
  std::vector<std::string> PeerIdentity() const;
  // "x509_subject_alternative_name" or "x509_common_name" (gRPC's property names), "" when
  // PeerIdentity() is empty.
  std::string PeerIdentityPropertyName() const;
};

// The AuthContext of a connection's socket (a transport::TlsSocket for TLS; anything else is
// "insecure"; null gives an insecure context too).
std::shared_ptr<const AuthContext> MakeAuthContext(const transport::Socket* socket);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_AUTH_CONTEXT_H_
