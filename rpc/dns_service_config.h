// rpc/dns_service_config.h — gRFC A2, "Service Config via DNS": the service config a DNS name
// publishes in a TXT record of _grpc_config.<name>, e.g.
//
//   _grpc_config.api.example.com. TXT "grpc_config=[{\"clientLanguage\":[\"c++\"],"
//       "\"percentage\":50,\"serviceConfig\":{\"loadBalancingConfig\":[{\"round_robin\":{}}]}}]"
//
// The value after "grpc_config=" is a JSON array of choices; a client takes the first choice
// whose clientLanguage (if present) names its language ("c++" for us, case-insensitive), whose
// percentage (if present) exceeds a random number in [0, 99], and whose clientHostname (if
// present) names its host. A DNS character-string holds at most 255 bytes: a long record is
// split into several strings, which are joined; of several TXT records, the first that starts
// with "grpc_config=" counts (as gRPC C-core does) and the others are ignored.
//
// Any problem (bad JSON, a choice or field of the wrong type, a percentage outside 0..100, a
// serviceConfig that is not an object) gives no config and an error to keep: it never fails
// the channel. Unknown fields of a choice are ignored (forward compatibility).
//
// The lookup (ChannelOptions::dns_txt_service_config) is off by default, as in gRPC C++ 1.51,
// whose c-ares resolver queries TXT records only when GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION
// is explicitly 0. ResQueryTxtLookup() uses glibc's res_query() (libresolv) on a worker thread;
// tests inject a TxtLookupFunction instead.
//
// Threading: the parsing functions are pure (any thread). ResQueryTxtLookup() is called on the
// loop's thread and answers there. Lifetime: nothing is kept between calls but a
// process-wide worker thread pool, made on first use.
#ifndef H2RPC_RPC_DNS_SERVICE_CONFIG_H_
#define H2RPC_RPC_DNS_SERVICE_CONFIG_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {

// The TXT records of one name, each as its character-strings.
using TxtRecords = std::vector<std::vector<std::string>>;
using TxtCallback = std::function<void(absl::StatusOr<TxtRecords>)>;
// Looks up the TXT records of `name` ("_grpc_config.<host>"); calls `done` once, on the loop,
// later or at once. NOT_FOUND when the name has no TXT record.
using TxtLookupFunction = std::function<void(const std::string& name, TxtCallback done)>;

// What choosing depends on.
struct ServiceConfigChoiceContext {
  std::string client_language = "c++";
  std::string hostname;     // this host's name (gethostname() by default: LocalHostname())
  int random_percent = 0;   // in [0, 99]: a choice with "percentage": N applies when this < N
};

// "_grpc_config." + host.
std::string GrpcConfigTxtName(std::string_view host);

// The JSON after "grpc_config=" of the first record (its strings joined) that starts with it;
// nullopt if none does.
std::optional<std::string> GrpcConfigFromTxt(const TxtRecords& records);

// The chosen choice's serviceConfig as a JSON object; nullopt when no choice applies;
// INVALID_ARGUMENT (naming the problem) when the choices are malformed.
absl::StatusOr<std::optional<std::string>> ChooseServiceConfig(
    std::string_view choices_json, const ServiceConfigChoiceContext& context);

// What a resolution takes from a TXT lookup's answer: the chosen config (if any) and the error
// to keep (OK when fine or when there is no record at all).
struct DnsServiceConfig {
  std::optional<std::string> service_config;
  absl::Status error;
};
DnsServiceConfig ServiceConfigFromTxtAnswer(const absl::StatusOr<TxtRecords>& answer,
                                            const ServiceConfigChoiceContext& context);

// gethostname(), or "" if it fails.
std::string LocalHostname();

// A TXT lookup with res_query(name, C_IN, T_TXT) on a worker thread; the answer is posted to
// `loop`. UNAVAILABLE for a failed query, NOT_FOUND for a name without TXT records.
void ResQueryTxtLookup(transport::UvLoop* loop, const std::string& name, TxtCallback done);

// Parses a DNS answer message (what res_query returns) into its TXT records. Exposed for tests
// (bad messages: INVALID_ARGUMENT, never a crash).
absl::StatusOr<TxtRecords> ParseTxtAnswer(const unsigned char* message, int length);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_DNS_SERVICE_CONFIG_H_
