#include "transport/testing/allocation_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

// Defined in the test binary (alwayslink, linkstatic), so they replace the global operators for
// every library linked in; the array forms' defaults call these.
void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace h2rpc::transport::testing {

size_t AllocationCount() { return g_allocations.load(std::memory_order_relaxed); }

}  // namespace h2rpc::transport::testing
