// rpc/metadata_limits.h — gRPC's limits on the size of received metadata: a soft limit above
// which calls are rejected with a probability rising linearly to 1 at the hard limit, where
// every call is rejected, both with RESOURCE_EXHAUSTED. The size of a header list is HTTP/2's
// (RFC 9113 §6.5.2): name + value + 32 bytes per field, pseudo-headers included.
//
// The same as gRPC C++'s channel args grpc.max_metadata_size (soft, default 8 KiB) and
// grpc.absolute_max_metadata_size (hard, default 16 KiB): with only one of them set, the other
// follows as in gRPC (hard = max(1.25 x soft, 16 KiB); soft = max(8 KiB, 0.8 x hard)).
// rpc::Server applies them to request headers, rpc::Channel to response headers and trailers;
// both advertise the hard limit as SETTINGS_MAX_HEADER_LIST_SIZE.
//
// Threading and lifetime: plain values and pure functions, any thread.
#ifndef H2RPC_RPC_METADATA_LIMITS_H_
#define H2RPC_RPC_METADATA_LIMITS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace h2rpc::rpc {

inline constexpr uint32_t kDefaultMetadataSoftLimit = 8 * 1024;
inline constexpr uint32_t kDefaultMetadataHardLimit = 16 * 1024;

// As configured: 0 = not set (derived from the other, or gRPC's default).
struct MetadataSizeOptions {
  uint32_t max_metadata_size = 0;           // soft limit (grpc.max_metadata_size)
  uint32_t absolute_max_metadata_size = 0;  // hard limit (grpc.absolute_max_metadata_size)
};

// As applied: soft <= hard.
struct MetadataSizeLimits {
  uint32_t soft = kDefaultMetadataSoftLimit;
  uint32_t hard = kDefaultMetadataHardLimit;
};

MetadataSizeLimits ResolveMetadataSizeLimits(const MetadataSizeOptions& options);

// The most fields a header list within `limits.hard` can have (each costs at least 33 bytes):
// a pair-count limit at least this high never rejects what the size limit accepts.
uint32_t MaxFieldsWithin(const MetadataSizeLimits& limits);

// RFC 9113 §6.5.2's size of `fields` (anything iterable whose elements have .name and .value:
// transport::Headers).
template <typename Fields>
size_t HeaderListSize(const Fields& fields) {
  size_t size = 0;
  for (const auto& f : fields) size += f.name.size() + f.value.size() + 32;
  return size;
}

// OK, or RESOURCE_EXHAUSTED for metadata of `size` bytes. `draw` is uniform in [0, 1) (see
// RandomDraw): above the soft limit a call is rejected when draw < (size - soft) / (hard - soft).
absl::Status CheckMetadataSize(size_t size, const MetadataSizeLimits& limits, double draw);

// The same with a draw from RandomDraw(), made only when `size` is between the limits.
absl::Status CheckMetadataSize(size_t size, const MetadataSizeLimits& limits);

// A uniform draw in [0, 1) from a per-thread generator.
double RandomDraw();

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_METADATA_LIMITS_H_
