// The counting operator new is the one linked in (an alwayslink slip would leave the default
// one and make every budget built on AllocationCount() pass vacuously).
#include "transport/testing/allocation_counter.h"

#include <memory>

#include "gtest/gtest.h"

namespace h2rpc::transport::testing {
namespace {

// Where the test's allocations escape to, so that no optimiser elides a new/delete pair.
void* volatile g_sink = nullptr;

TEST(AllocationCounterTest, CountsEachGlobalNew) {
  const size_t before = AllocationCount();
  auto one = std::make_unique<int>(1);
  auto array = std::make_unique<char[]>(64);  // operator new[] calls operator new
  g_sink = one.get();
  g_sink = array.get();
  EXPECT_EQ(AllocationCount(), before + 2);
}

}  // namespace
}  // namespace h2rpc::transport::testing
