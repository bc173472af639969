// Fuzz target: `grpc-timeout` parsing (rpc/timeout.h). The input is a header value; a second
// property encodes a duration taken from the input and checks the round trip.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rpc/timeout.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using h2rpc::rpc::DecodeGrpcTimeout;
  using h2rpc::rpc::EncodeGrpcTimeout;
  using h2rpc::rpc::kMaxGrpcTimeout;
  const absl::string_view value(reinterpret_cast<const char*>(data), size);
  auto decoded = DecodeGrpcTimeout(value);
  if (decoded.ok()) {
    // Accepted values are 1-8 digits and a unit: never negative, never above the clamp.
    H2RPC_FUZZ_CHECK(size >= 2 && size <= 9);
    H2RPC_FUZZ_CHECK(*decoded >= absl::ZeroDuration() && *decoded <= kMaxGrpcTimeout);
    // What we would send back for it parses, and is never shorter (encoding rounds up).
    auto again = DecodeGrpcTimeout(EncodeGrpcTimeout(*decoded));
    H2RPC_FUZZ_CHECK(again.ok() && *again >= *decoded);
  } else {
    H2RPC_FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInternal);
  }

  // Any duration (the first 8 bytes as signed nanoseconds) encodes to a value that parses.
  if (size >= 8) {
    int64_t ns = 0;
    for (int i = 0; i < 8; ++i) ns = static_cast<int64_t>(static_cast<uint64_t>(ns) << 8 | data[i]);
    const absl::Duration d = absl::Nanoseconds(ns);
    const std::string wire = EncodeGrpcTimeout(d);
    auto back = DecodeGrpcTimeout(wire);
    H2RPC_FUZZ_CHECK(back.ok());
    if (d <= absl::ZeroDuration()) {
      H2RPC_FUZZ_CHECK(*back == absl::ZeroDuration());
    } else {
      H2RPC_FUZZ_CHECK(*back >= d);
    }
  }
  return 0;
}
