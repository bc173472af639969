// The counting operator new is the one linked in (an alwayslink slip would leave the default
// one and make every budget built on AllocationCount() pass vacuously).
#include "transport/testing/allocation_counter.h"

#include <cstdint>
#include <memory>
#include <new>

#include "gtest/gtest.h"

namespace h2rpc::transport::testing {
namespace {

// Where the test's allocations escape to, so that no optimiser elides a new/delete pair.
void* volatile g_sink = nullptr;

TEST(AllocationCounterTest, CountsEachGlobalNew) {
  const size_t before = AllocationCount();
  auto one = std::make_unique<int>(1);
  auto array = std::make_unique<char[]>(64);  // operator new[]: its own form under ASan
  g_sink = one.get();
  g_sink = array.get();
  EXPECT_EQ(AllocationCount(), before + 2);
}

struct alignas(64) Aligned {
  char bytes[64];
};

TEST(AllocationCounterTest, CountsAlignedAndNothrowForms) {
  const size_t before = AllocationCount();
  auto aligned = std::make_unique<Aligned>();
  auto aligned_array = std::make_unique<Aligned[]>(3);
  std::unique_ptr<int> nothrow(new (std::nothrow) int(1));
  g_sink = aligned.get();
  g_sink = aligned_array.get();
  g_sink = nothrow.get();
  EXPECT_EQ(AllocationCount(), before + 3);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned.get()) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned_array.get()) % 64, 0u);
}

TEST(AllocationCounterTest, CountsEachGlobalDeleteOfABlock) {
  auto one = std::make_unique<int>(1);
  auto array = std::make_unique<char[]>(64);
  auto aligned = std::make_unique<Aligned>();
  g_sink = one.get();
  g_sink = array.get();
  g_sink = aligned.get();
  const size_t before = DeallocationCount();
  one.reset();
  array.reset();
  aligned.reset();
  ::operator delete(nullptr);  // no block: not counted
  EXPECT_EQ(DeallocationCount(), before + 3);
}

}  // namespace
}  // namespace h2rpc::transport::testing
