// transport/testing/heap_in_use.h — HeapInUse(): the bytes the process's allocator has handed out
// and not had back, for memory budgets in tests (bytes per connection, per engine). Unlike RSS or
// time, the figure is deterministic: the same allocations every run, whatever the machine's load.
//
// Outside sanitizers it is malloc's main arena (mallinfo2: uordblks + hblkhd), which a second
// thread's own arena does not touch; under ASan its allocator's total. Under TSan neither works
// (mallinfo2 does not see TSan's allocator): a test measuring heap is tagged no_tsan.
// Header-only, testonly; any thread.
#ifndef H2RPC_TRANSPORT_TESTING_HEAP_IN_USE_H_
#define H2RPC_TRANSPORT_TESTING_HEAP_IN_USE_H_

#include <malloc.h>

#include <cstddef>
#include <cstdint>

#include "transport/sanitizers.h"

#ifdef H2RPC_ASAN
// From the ASan runtime (<sanitizer/allocator_interface.h>, which Debian's gcc does not ship).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace h2rpc::transport::testing {

inline int64_t HeapInUse() {
#ifdef H2RPC_ASAN
  return static_cast<int64_t>(__sanitizer_get_current_allocated_bytes());
#else
  struct mallinfo2 mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
#endif
}

}  // namespace h2rpc::transport::testing

#endif  // H2RPC_TRANSPORT_TESTING_HEAP_IN_USE_H_
