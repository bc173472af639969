// Fuzz target: gRPC metadata (rpc/metadata.h): received header fields to Metadata (-bin base64
// decoding, key and value rules) and application-set metadata to header fields. Input: one flag
// byte, then fields "name=value", separated by '\n'.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "rpc/metadata.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using h2rpc::rpc::Metadata;

constexpr size_t kMaxFields = 256;  // bounds the work per input

// What FromWire/Add promise about every kept entry, and ToWire -> FromWire gives it back.
void CheckKept(const Metadata& m) {
  for (const auto& [key, value] : m) {
    H2RPC_FUZZ_CHECK(Metadata::IsValidKey(key));
    if (!Metadata::IsBinaryKey(key)) H2RPC_FUZZ_CHECK(Metadata::IsValidAsciiValue(value));
  }
  const std::vector<Metadata::Entry> wire = m.ToWire();
  H2RPC_FUZZ_CHECK(wire.size() == m.size());
  for (const auto& [key, value] : wire) {
    H2RPC_FUZZ_CHECK(Metadata::IsValidAsciiValue(value));  // base64 or printable: sendable
  }
  auto back = Metadata::FromWire(wire, /*skip_reserved=*/false);
  H2RPC_FUZZ_CHECK(back.ok());
  H2RPC_FUZZ_CHECK(*back == m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  h2rpc::fuzz::Input in(data, size);
  const uint8_t flags = in.Byte();
  std::vector<Metadata::Entry> fields;
  while (!in.empty() && fields.size() < kMaxFields) {
    std::string_view line = in.Until('\n');
    const size_t eq = line.find('=');
    std::string_view name = line.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : line.substr(eq + 1);
    fields.emplace_back(std::string(name), std::string(value));
  }

  // Received fields, as the server and the client read them.
  const bool skip_reserved = flags & 1;
  auto received = Metadata::FromWire(fields, skip_reserved);
  if (received.ok()) {
    CheckKept(*received);
    H2RPC_FUZZ_CHECK(received->size() <= fields.size() * (1 + size));
  } else {
    H2RPC_FUZZ_CHECK(received.status().code() == absl::StatusCode::kInternal);
  }

  // Application-set metadata: Add accepts or refuses each; what it keeps is sendable.
  Metadata added;
  for (const auto& [name, value] : fields) {
    const size_t before = added.size();
    const absl::Status st = added.Add(name, value);
    H2RPC_FUZZ_CHECK(st.ok() ? added.size() == before + 1 : added.size() == before);
    if (!st.ok()) H2RPC_FUZZ_CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  }
  CheckKept(added);
  if (!fields.empty()) {
    const std::string& key = fields.front().first;
    const size_t values = added.Get(key).size();
    H2RPC_FUZZ_CHECK(added.Contains(key) == (values > 0));
    H2RPC_FUZZ_CHECK(added.GetFirst(key).has_value() == (values > 0));
    H2RPC_FUZZ_CHECK(added.Remove(key) == values);
    H2RPC_FUZZ_CHECK(!added.Contains(key));
  }
  return 0;
}
