#include "rpc/auth_context.h"

#include "absl/strings/match.h"
#include "transport/tls_socket.h"

namespace h2rpc::rpc {

std::vector<std::string> AuthContext::PeerIdentity() const {
  if (!peer_authenticated) return {};
  std::vector<std::string> sans = dns_sans;
  sans.insert(sans.end(), uri_sans.begin(), uri_sans.end());
  sans.insert(sans.end(), ip_sans.begin(), ip_sans.end());
  if (!sans.empty()) return sans;
  if (!subject_common_name.empty()) return {subject_common_name};
  return {};
}

std::string AuthContext::PeerIdentityPropertyName() const {
  if (!peer_authenticated) return "";
  if (!dns_sans.empty() || !uri_sans.empty() || !ip_sans.empty()) {
    return "x509_subject_alternative_name";
  }
  return subject_common_name.empty() ? "" : "x509_common_name";
}

std::shared_ptr<const AuthContext> MakeAuthContext(const transport::Socket* socket) {
  auto context = std::make_shared<AuthContext>();
  const auto* tls = dynamic_cast<const transport::TlsSocket*>(socket);
  if (tls == nullptr) return context;
  context->transport_security_type = "ssl";
  context->tls_version = tls->protocolVersion();
  context->cipher = tls->cipherName();
  context->sni = tls->servername();
  context->peer_authenticated = tls->authorized();
  if (!context->peer_authenticated) context->authorization_error = tls->authorizationError();
  if (std::optional<transport::PeerCertificate> cert = tls->getPeerCertificate()) {
    context->subject_common_name = cert->subjectField("CN");
    context->dns_sans = cert->dnsNames;
    context->uri_sans = cert->uris;
    context->ip_sans = cert->ipAddresses;
    if (cert->uris.size() == 1 && absl::StartsWith(cert->uris[0], "spiffe://")) {
      context->spiffe_id = cert->uris[0];
    }
    context->peer_certificate_fingerprint256 = cert->fingerprint256;
  }
  return context;
}

}  // namespace h2rpc::rpc
