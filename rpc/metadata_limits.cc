#include "rpc/metadata_limits.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"

namespace h2rpc::rpc {

MetadataSizeLimits ResolveMetadataSizeLimits(const MetadataSizeOptions& options) {
  MetadataSizeLimits limits;
  const uint64_t soft = options.max_metadata_size;
  const uint64_t hard = options.absolute_max_metadata_size;
  // gRPC's GetSoftLimitFromChannelArgs / GetHardLimitFromChannelArgs.
  limits.soft = soft ? static_cast<uint32_t>(soft)
                     : std::max<uint32_t>(kDefaultMetadataSoftLimit,
                                          static_cast<uint32_t>(hard * 4 / 5));
  limits.hard = hard ? static_cast<uint32_t>(hard)
                     : static_cast<uint32_t>(std::min<uint64_t>(
                           UINT32_MAX, std::max<uint64_t>(soft * 5 / 4, kDefaultMetadataHardLimit)));
  // A soft limit above the hard one would never apply.
  limits.soft = std::min(limits.soft, limits.hard);
  return limits;
}

uint32_t MaxFieldsWithin(const MetadataSizeLimits& limits) { return limits.hard / 33 + 1; }

absl::Status CheckMetadataSize(size_t size, const MetadataSizeLimits& limits, double draw) {
  if (size > limits.hard) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "received metadata size exceeds hard limit (", size, " vs. ", limits.hard, ")"));
  }
  if (size > limits.soft) {
    // hard > soft here (size lies between them).
    const double p = static_cast<double>(size - limits.soft) /
                     static_cast<double>(limits.hard - limits.soft);
    if (draw < p) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "received metadata size exceeds soft limit (", size, " vs. ", limits.soft,
          "), rejecting requests with some random probability"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckMetadataSize(size_t size, const MetadataSizeLimits& limits) {
  if (size <= limits.soft) return absl::OkStatus();  // the common case: no draw
  return CheckMetadataSize(size, limits, size > limits.hard ? 0.0 : RandomDraw());
}

double RandomDraw() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

}  // namespace h2rpc::rpc
