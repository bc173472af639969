#include "transport/field_vector_cache.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "transport/sanitizers.h"

namespace h2rpc::transport::internal {
namespace {

using Fields = std::vector<HeaderField>;

Fields WithCapacity(size_t n) {
  Fields v;
  v.reserve(n);
  v.push_back({"content-type", "application/grpc+a-value-past-the-short-string-buffer"});
  return v;
}

// Each test runs on a thread of its own: the cache is per thread and starts empty there.
template <typename F>
void OnNewThread(F f) {
  std::thread t(f);
  t.join();
}

#ifndef H2RPC_ASAN

TEST(FieldVectorCacheTest, AGivenVectorsMemoryIsTheNextTake) {
  OnNewThread([] {
    Fields v = WithCapacity(8);
    const HeaderField* memory = v.data();
    FieldVectorCache::Give(std::move(v));
    EXPECT_EQ(FieldVectorCache::Count(), 1u);
    Fields again = FieldVectorCache::Take();
    EXPECT_TRUE(again.empty());  // the fields went, the memory stayed
    EXPECT_EQ(again.data(), memory);
    EXPECT_EQ(again.capacity(), 8u);
    EXPECT_EQ(FieldVectorCache::Count(), 0u);
    EXPECT_EQ(FieldVectorCache::Take().capacity(), 0u);  // none left: an unallocated one
  });
}

// A burst of requests ends in a burst of dropped streams: the next burst finds all of them.
TEST(FieldVectorCacheTest, KeepsABurstUpToItsCount) {
  OnNewThread([] {
    for (size_t i = 0; i < FieldVectorCache::kMaxCount + 10; ++i) {
      FieldVectorCache::Give(WithCapacity(8));
    }
    EXPECT_EQ(FieldVectorCache::Count(), FieldVectorCache::kMaxCount);
    for (size_t i = 0; i < FieldVectorCache::kMaxCount; ++i) {
      EXPECT_EQ(FieldVectorCache::Take().capacity(), 8u);
    }
    EXPECT_EQ(FieldVectorCache::Count(), 0u);
  });
}

TEST(FieldVectorCacheTest, ALargeOrUnallocatedVectorIsNotKept) {
  OnNewThread([] {
    FieldVectorCache::Give(WithCapacity(FieldVectorCache::kMaxCapacity + 1));
    FieldVectorCache::Give(Fields());
    EXPECT_EQ(FieldVectorCache::Count(), 0u);
    FieldVectorCache::Give(WithCapacity(FieldVectorCache::kMaxCapacity));
    EXPECT_EQ(FieldVectorCache::Count(), 1u);
  });
}

#else  // H2RPC_ASAN

// Under ASan nothing is kept: a view into a destroyed stream's headers stays a reported error.
TEST(FieldVectorCacheTest, KeepsNothingUnderAsan) {
  OnNewThread([] {
    FieldVectorCache::Give(WithCapacity(8));
    EXPECT_EQ(FieldVectorCache::Count(), 0u);
    EXPECT_EQ(FieldVectorCache::Take().capacity(), 0u);
  });
}

#endif

// Headers hand their field vector over and take one in, without changing what they hold.
TEST(FieldVectorCacheTest, HeadersReleaseAndAdoptTheirFieldVector) {
  Headers h{{"a", "1"}, {"b", "2"}};
  h.setSensitive("a");
  Fields fields = h.releaseFields();
  EXPECT_EQ(fields.size(), 2u);
  EXPECT_TRUE(h.empty());
  EXPECT_TRUE(h.isSensitive("a"));
  const HeaderField* memory = fields.data();
  const size_t capacity = fields.capacity();
  Headers next;
  next.adoptStorage(std::move(fields));
  EXPECT_TRUE(next.empty());
  next.add("c", "3");
  EXPECT_EQ(next.raw().data(), memory);
  EXPECT_EQ(next.raw().capacity(), capacity);
  EXPECT_EQ(next, (Headers{{"c", "3"}}));
  next.adoptStorage(WithCapacity(8));  // has a field: keeps its own
  EXPECT_EQ(next, (Headers{{"c", "3"}}));
}

}  // namespace
}  // namespace h2rpc::transport::internal
