// rpc/testing/peak_heap.h — PeakHeap: how much the heap grew at its peak during a test, so tests
// can assert memory bounds (a declared length never allocated up front, a zip bomb stopped
// early). Linking //rpc:peak_heap replaces the global operator new/delete of the test binary
// with counting ones (std::string and every library linked in use them).
//
// Threading: the counters are atomic; a PeakHeap measures the whole process.
#ifndef H2RPC_RPC_TESTING_PEAK_HEAP_H_
#define H2RPC_RPC_TESTING_PEAK_HEAP_H_

#include <cstdint>

namespace h2rpc::rpc::testing {

int64_t LiveHeapBytes();

// Peak heap growth since construction (resets the peak).
class PeakHeap {
 public:
  PeakHeap();
  int64_t Growth() const;

 private:
  int64_t start_;
};

}  // namespace h2rpc::rpc::testing

#endif  // H2RPC_RPC_TESTING_PEAK_HEAP_H_
