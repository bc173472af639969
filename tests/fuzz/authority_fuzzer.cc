// Fuzz target: authority / channel target parsing.
// - transport::parseAuthority is what every connect() parses; a parsed authority must print
//   (hostPort) to something that parses back the same.
// - rpc::ParseTarget is what every rpc::Channel parses (gRPC's naming forms): a parsed target has
//   a host or addresses, a non-empty default :authority, and each address, named the gRPC way
//   (AddressUri), parses back to the same address.
// - rpc::ParseListenAddress is what Server::Listen parses.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"
#include "rpc/target.h"
#include "transport/connect.h"

namespace {

void Check(std::string_view url) {
  auto parsed = h2rpc::transport::parseAuthority(url);
  if (!parsed.ok()) return;
  H2RPC_FUZZ_CHECK(parsed->scheme == "http" || parsed->scheme == "https");
  H2RPC_FUZZ_CHECK(!parsed->host.empty());
  // An unbracketed host with '[', ']' or ':' used to be accepted ("http://::1]:50051" gave
  // host "::1]", whose hostPort() did not parse back): corpus/authority/finding-*.
  H2RPC_FUZZ_CHECK(parsed->host.find('[') == std::string::npos &&
                   parsed->host.find(']') == std::string::npos);
  auto again = h2rpc::transport::parseAuthority(parsed->scheme + "://" + parsed->hostPort());
  H2RPC_FUZZ_CHECK(again.ok());
  H2RPC_FUZZ_CHECK(again->scheme == parsed->scheme && again->host == parsed->host &&
                   again->port == parsed->port);
}

void CheckTarget(std::string_view text) {
  using h2rpc::rpc::Target;
  auto target = h2rpc::rpc::ParseTarget(text);
  if (!target.ok()) {
    H2RPC_FUZZ_CHECK(target.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  H2RPC_FUZZ_CHECK(!target->DefaultAuthority().empty());
  if (target->scheme == Target::Scheme::kDns) {
    H2RPC_FUZZ_CHECK(!target->host.empty() && target->port != 0 && target->addresses.empty());
    // host[:port] as written parses back to the same host and port.
    auto again = h2rpc::rpc::ParseTarget(std::string("dns:///").append(target->endpoint));
    H2RPC_FUZZ_CHECK(again.ok() && again->host == target->host && again->port == target->port);
    return;
  }
  H2RPC_FUZZ_CHECK(!target->addresses.empty());
  for (const auto& address : target->addresses) {
    const std::string uri = h2rpc::rpc::AddressUri(address);
    auto again = h2rpc::rpc::ParseTarget(uri);
    H2RPC_FUZZ_CHECK(again.ok() && again->addresses.size() == 1 && again->addresses[0] == address);
  }
}

void CheckListenAddress(std::string_view text) {
  auto listen = h2rpc::rpc::ParseListenAddress(text);
  if (!listen.ok()) {
    H2RPC_FUZZ_CHECK(listen.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  if (listen->is_unix()) return;
  H2RPC_FUZZ_CHECK(listen->host.empty() ||
                   h2rpc::transport::SocketAddress::fromIp(listen->host, listen->port).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Check(input);                                  // a connect() URL
  Check(std::string("http://").append(input));   // an rpc::Channel target, h2c
  Check(std::string("https://").append(input));  // and over TLS
  CheckTarget(input);                            // an rpc::Channel target
  CheckListenAddress(input);                     // a Server::Listen address
  return 0;
}
