#include "rpc/timeout.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace h2rpc::rpc {
namespace {

constexpr int64_t kMaxValue = 99999999;  // 8 digits

struct Unit {
  char letter;
  absl::Duration size;
};

// Finest first: the encoder takes the first unit that fits.
constexpr std::array<Unit, 6> kUnits = {{
    {'n', absl::Nanoseconds(1)},
    {'u', absl::Microseconds(1)},
    {'m', absl::Milliseconds(1)},
    {'S', absl::Seconds(1)},
    {'M', absl::Minutes(1)},
    {'H', absl::Hours(1)},
}};

absl::Status Malformed(absl::string_view value, absl::string_view why) {
  return absl::InternalError(
      absl::StrCat("malformed grpc-timeout: \"", absl::CHexEscape(value), "\" (", why, ")"));
}

}  // namespace

std::string EncodeGrpcTimeout(absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) return "0n";
  for (const Unit& unit : kUnits) {
    // Compared before dividing, so the quotient below always fits in int64.
    if (timeout <= unit.size * kMaxValue) {
      absl::Duration remainder;
      int64_t count = absl::IDivDuration(timeout, unit.size, &remainder);
      if (remainder > absl::ZeroDuration()) ++count;  // round up
      return absl::StrCat(count, std::string(1, unit.letter));
    }
  }
  return absl::StrCat(kMaxValue, "H");
}

absl::StatusOr<absl::Duration> DecodeGrpcTimeout(absl::string_view value) {
  if (value.size() < 2) return Malformed(value, "too short");
  if (value.size() > 9) return Malformed(value, "more than 8 digits");
  const char letter = value.back();
  const Unit* unit = nullptr;
  for (const Unit& candidate : kUnits) {
    if (candidate.letter == letter) unit = &candidate;
  }
  if (unit == nullptr) return Malformed(value, "unknown unit");
  int64_t count = 0;
  for (const char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return Malformed(value, "not a decimal number");
    count = count * 10 + (c - '0');
  }
  // 99999999H is ~11400 years: representable by absl::Duration, so clamping after is exact.
  return std::min(unit->size * count, kMaxGrpcTimeout);
}

}  // namespace h2rpc::rpc
