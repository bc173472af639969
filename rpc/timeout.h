// `grpc-timeout` header values (doc/PROTOCOL-HTTP2.md "Timeout"; notes §2): 1-8 ASCII digits and a
// unit, H (hours), M (minutes), S (seconds), m (milliseconds), u (microseconds), n (nanoseconds).
//
// Threading: pure functions on values, callable from any thread.
// Lifetime: results own their bytes; arguments are only read during the call.
#ifndef H2RPC_RPC_TIMEOUT_H_
#define H2RPC_RPC_TIMEOUT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace h2rpc::rpc {

// The largest duration DecodeGrpcTimeout returns: int64 nanoseconds (~292 years), like grpc-go,
// so a decoded timeout converts to std::chrono::nanoseconds or an int64 ns timer without overflow.
inline constexpr absl::Duration kMaxGrpcTimeout = absl::Nanoseconds(INT64_MAX);

// The finest unit whose value fits in 8 digits, rounded UP so the peer never sees a shorter
// timeout than ours (grpc-go encode_duration.go): 1ns -> "1n", 1s -> "1000000u",
// 100000000ms -> "100000S". <= 0 -> "0n". Longer than 99999999 hours (infinite included) ->
// "99999999H"; callers send no header at all for an infinite deadline.
std::string EncodeGrpcTimeout(absl::Duration timeout);

// Parses a `grpc-timeout` value: exactly 1-8 ASCII digits followed by one unit letter, nothing
// else (no sign, no spaces). Anything else -> INTERNAL "malformed grpc-timeout: ..." (grpc-go;
// its server answers HTTP 400). Results above kMaxGrpcTimeout are clamped to it.
absl::StatusOr<absl::Duration> DecodeGrpcTimeout(absl::string_view value);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_TIMEOUT_H_
