// transport/field_vector_cache.h — the memory of received header blocks' field vectors, kept per
// thread for the next blocks: a server stream's request headers give theirs back when the stream
// is destroyed, and the session's next HEADERS block takes one instead of allocating (one
// 512-byte malloc per request before; bench/PROFILE.md, "Unary 0 B, stop 30").
//
// Up to kMaxCount vectors per thread, each of at most kMaxCapacity fields (a larger one is freed:
// at most 256 KiB per thread, 128 KiB for typical 8-field requests). Requests come and go in
// bursts (256 calls in flight in the benchmark), hence a list and not one spare.
// Under ASan (H2RPC_ASAN) nothing is kept: heap throughout, so that a view into a destroyed
// stream's headers (a short value lives inside the vector) stays an error ASan reports.
#ifndef H2RPC_TRANSPORT_FIELD_VECTOR_CACHE_H_
#define H2RPC_TRANSPORT_FIELD_VECTOR_CACHE_H_

#include <cstddef>
#include <vector>

#include "transport/headers.h"

namespace h2rpc::transport::internal {

class FieldVectorCache {
 public:
  static constexpr size_t kMaxCount = 256;     // vectors per thread
  static constexpr size_t kMaxCapacity = 16;   // fields per kept vector

  // An empty vector with the memory of one given back on this thread, or an unallocated one.
  static std::vector<HeaderField> Take();
  // Keeps `v`'s memory (its fields destroyed) for this thread's next Take(), within the bounds
  // above; else frees it.
  static void Give(std::vector<HeaderField> v);
  // Vectors kept on this thread (for tests).
  static size_t Count();
};

}  // namespace h2rpc::transport::internal

#endif  // H2RPC_TRANSPORT_FIELD_VECTOR_CACHE_H_
