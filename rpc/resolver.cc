#include "rpc/resolver.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "transport/errors.h"

namespace h2rpc::rpc {

namespace {

// The text of a transport address ("127.0.0.1:1", "[::1]:1", "/run/x.sock", "@name") as an
// address URI ("ipv4:127.0.0.1:1").
std::string AddressUriFromText(const std::string& text) {
  if (text.empty()) return text;
  if (text.front() == '@') return absl::StrCat("unix-abstract:", text.substr(1));
  if (text.front() == '[') return absl::StrCat("ipv6:", text);
  const size_t colon = text.rfind(':');
  if (colon != std::string::npos && transport::SocketAddress::fromIp(text.substr(0, colon), 0).ok()) {
    return absl::StrCat("ipv4:", text);
  }
  return absl::StrCat("unix:", text);
}

}  // namespace

absl::StatusOr<std::shared_ptr<Resolver>> Resolver::Create(transport::UvLoop* loop,
                                                           Target target,
                                                           transport::LookupFunction lookup,
                                                           ResolveFunction resolve,
                                                           DnsTxtOptions txt) {
  if (!target.dns_authority.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid target '", target.text, "': a DNS server authority ('", target.dns_authority,
        "') is not supported; use dns:///host:port"));
  }
  return std::shared_ptr<Resolver>(
      new Resolver(loop, std::move(target), std::move(lookup), std::move(resolve), std::move(txt)));
}

void Resolver::ResolveWithConfig(ResolverResultCallback callback) {
  if (!resolve_ && txt_.enabled && target_.scheme == Target::Scheme::kDns) {
    ResolveWithTxt(std::move(callback));
    return;
  }
  if (!resolve_) {
    Resolve([callback = std::move(callback)](
                absl::StatusOr<std::vector<transport::SocketAddress>> addresses) {
      if (!addresses.ok()) {
        callback(addresses.status());
      } else {
        callback(ResolverResult{std::move(*addresses), std::nullopt});
      }
    });
    return;
  }
  ++resolutions_;
  // From the loop, whatever the user's function does: never inside this call.
  loop_->post([resolve = resolve_, target = target_, callback = std::move(callback)]() mutable {
    resolve(target, std::move(callback));
  });
}

void Resolver::ResolveWithTxt(ResolverResultCallback callback) {
  // Both lookups at once; the callback once both have answered (each answers on the loop).
  struct Join {
    ResolverResultCallback callback;
    std::optional<absl::StatusOr<std::vector<transport::SocketAddress>>> addresses;
    std::optional<DnsServiceConfig> config;
    void MaybeDone() {
      if (!addresses || !config) return;
      if (!addresses->ok()) {
        callback(addresses->status());
      } else {
        callback(ResolverResult{std::move(**addresses), std::move(config->service_config)});
      }
    }
  };
  auto join = std::make_shared<Join>();
  join->callback = std::move(callback);
  std::weak_ptr<Resolver> weak = weak_from_this();
  Resolve([join](absl::StatusOr<std::vector<transport::SocketAddress>> addresses) {
    join->addresses = std::move(addresses);
    join->MaybeDone();
  });
  ServiceConfigChoiceContext context;
  context.hostname = txt_.hostname.empty() ? LocalHostname() : txt_.hostname;
  if (txt_.random_percent) {
    context.random_percent = txt_.random_percent();
  } else {
    static thread_local std::minstd_rand random(std::random_device{}());
    context.random_percent = std::uniform_int_distribution<int>(0, 99)(random);
  }
  auto answered = [join, weak, context](absl::StatusOr<TxtRecords> records) {
    join->config = ServiceConfigFromTxtAnswer(records, context);
    if (auto self = weak.lock()) self->txt_error_ = join->config->error;
    join->MaybeDone();
  };
  const std::string name = GrpcConfigTxtName(target_.host);
  if (txt_.lookup) {
    // From the loop, whatever the user's function does: never inside this call.
    loop_->post([lookup = txt_.lookup, name, answered = std::move(answered)]() mutable {
      lookup(name, std::move(answered));
    });
  } else {
    ResQueryTxtLookup(loop_, name, std::move(answered));
  }
}

void Resolver::Resolve(transport::LookupCallback callback) {
  ++resolutions_;
  if (target_.scheme == Target::Scheme::kDns && lookup_) {
    // From the loop, whatever the user's function does: never inside this call.
    loop_->post([lookup = lookup_, host = target_.host, port = target_.port,
                 callback = std::move(callback)]() mutable {
      lookup(host, port, std::move(callback));
    });
    return;
  }
  if (target_.scheme == Target::Scheme::kDns) {
    transport::dnsLookup(loop_, target_.host, target_.port, std::move(callback));
    return;
  }
  loop_->post([callback = std::move(callback), addresses = target_.addresses] {
    callback(addresses);
  });
}

absl::Status ConnectFailure(const Target& target, const absl::Status& error, bool tls) {
  const transport::SystemErrorInfo info = transport::systemErrorInfo(error);
  const std::string cause = transport::nodeErrorMessage(error);
  if (info.syscall == "getaddrinfo") {
    return absl::UnavailableError(absl::StrCat(
        "DNS resolution failed for '", target.endpoint, "' (target '", target.text,
        "'): ", info.description, " (", cause, ")"));
  }
  if (!info.syscall.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "failed to connect to all addresses of '", target.text, "'; last error: ",
        AddressUriFromText(info.address), ": ", info.description, " (", cause, ")"));
  }
  return absl::UnavailableError(absl::StrCat("failed to connect to '", target.text, "': ",
                                             tls ? "TLS handshake failed: " : "",
                                             std::string(error.message())));
}

}  // namespace h2rpc::rpc
