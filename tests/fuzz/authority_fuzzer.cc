// Fuzz target: authority / channel target parsing. transport::parseAuthority is what every
// connect() and every rpc::Channel (which prefixes its target with "http://" or "https://")
// parses; a parsed authority must print (hostPort) to something that parses back the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Check(input);                                  // a connect() URL
  Check(std::string("http://").append(input));   // an rpc::Channel target, h2c
  Check(std::string("https://").append(input));  // and over TLS
  return 0;
}
