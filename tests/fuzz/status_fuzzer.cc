// Fuzz target: status on the wire (rpc/status_util.h): `grpc-status-details-bin` (a serialized
// google.rpc.Status, parsed by the generated message of proto/google/rpc/status.proto), the typed
// details read from it (rpc/status_details.h), `grpc-status` and `grpc-message` decoding.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"
#include "rpc/status_details.h"
#include "rpc/status_util.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace h2rpc::rpc;  // NOLINT: the functions under test

// Same code, message and payloads.
bool SameStatus(const absl::Status& a, const absl::Status& b) {
  if (a.code() != b.code() || a.message() != b.message()) return false;
  bool same = true;
  a.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    auto other = b.GetPayload(url);
    if (!other || *other != value) same = false;
  });
  b.ForEachPayload([&](absl::string_view url, const absl::Cord&) {
    if (!a.GetPayload(url)) same = false;
  });
  return same;
}

template <typename Detail>
void ReadAndReattach(const absl::Status& status) {
  std::optional<Detail> detail = GetStatusDetail<Detail>(status);
  if (!detail) return;
  absl::Status copy(status.code() == absl::StatusCode::kOk ? absl::StatusCode::kUnknown
                                                           : status.code(),
                    "x");
  AddStatusDetail(copy, *detail);
  std::optional<Detail> again = GetStatusDetail<Detail>(copy);
  H2RPC_FUZZ_CHECK(again.has_value());
  H2RPC_FUZZ_CHECK(again->SerializeAsString() == detail->SerializeAsString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);

  // grpc-status-details-bin.
  absl::Status decoded = absl::DataLossError("untouched");
  const absl::Status st = DecodeStatusDetails(bytes, &decoded);
  auto code = StatusDetailsCode(bytes);
  if (st.ok()) {
    // Whatever parses as a Status has a parsable code field, and re-encodes to the same Status.
    H2RPC_FUZZ_CHECK(code.ok());
    H2RPC_FUZZ_CHECK(static_cast<int>(decoded.code()) >= 0 &&
                     static_cast<int>(decoded.code()) <= 16);
    absl::Status again = absl::DataLossError("untouched");
    H2RPC_FUZZ_CHECK(DecodeStatusDetails(EncodeStatusDetails(decoded), &again).ok());
    H2RPC_FUZZ_CHECK(SameStatus(decoded, again));
    // Reading the standard details out of whatever arrived: a detail that parses re-attaches
    // to the same bytes' meaning (attached again, it reads back equal).
    ReadAndReattach<google::rpc::ErrorInfo>(decoded);
    ReadAndReattach<google::rpc::BadRequest>(decoded);
    ReadAndReattach<google::rpc::RetryInfo>(decoded);
    ReadAndReattach<google::rpc::DebugInfo>(decoded);
    (void)RetryDelay(decoded);
  } else {
    H2RPC_FUZZ_CHECK(st.code() == absl::StatusCode::kInternal);
    H2RPC_FUZZ_CHECK(decoded.code() == absl::StatusCode::kDataLoss);  // left alone
  }

  // grpc-status: any value maps to a gRPC code.
  const int grpc_code = static_cast<int>(StatusCodeFromGrpcStatus(bytes));
  H2RPC_FUZZ_CHECK(grpc_code >= 0 && grpc_code <= 16);

  // grpc-message: decoding never fails, and encoding round-trips any bytes.
  (void)PercentDecodeGrpcMessage(bytes);
  const std::string encoded = PercentEncodeGrpcMessage(bytes);
  for (char c : encoded) H2RPC_FUZZ_CHECK(c >= 0x20 && c <= 0x7e);
  H2RPC_FUZZ_CHECK(PercentDecodeGrpcMessage(encoded) == bytes);

  // The client's synthesized statuses take any number.
  if (size >= 4) {
    const uint32_t n = uint32_t{data[0]} << 24 | uint32_t{data[1]} << 16 | data[2] << 8 | data[3];
    H2RPC_FUZZ_CHECK(!StatusFromRstCode(n).ok());
    (void)StatusFromHttpStatus(static_cast<int>(n));
  }
  return 0;
}
