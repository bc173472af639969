// Base64 (RFC 4648 §4) without padding: what gRPC asks senders of -bin metadata values to emit
// (PROTOCOL-HTTP2.md, "Custom-Metadata") and what Connect's error details carry. One copy for
// rpc/'s metadata, server status details, the client's translated trailers and Connect's JSON.
#ifndef H2RPC_RPC_INTERNAL_BASE64_H_
#define H2RPC_RPC_INTERNAL_BASE64_H_

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace h2rpc::rpc::internal {

inline std::string Base64EncodeUnpadded(absl::string_view bytes) {
  std::string encoded = absl::Base64Escape(bytes);
  while (!encoded.empty() && encoded.back() == '=') encoded.pop_back();
  return encoded;
}

}  // namespace h2rpc::rpc::internal

#endif  // H2RPC_RPC_INTERNAL_BASE64_H_
