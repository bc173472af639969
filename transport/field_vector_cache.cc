#include "transport/field_vector_cache.h"

#include <utility>

#include "transport/sanitizers.h"

namespace h2rpc::transport::internal {
namespace {

using Fields = std::vector<HeaderField>;

// Trivially destructible, so that it stays usable while other thread_local and static objects
// are destroyed (a stream dropped then gives its vector to the heap); Drain empties it when the
// thread exits, as BlockPool's.
struct Cache {
  std::vector<Fields>* kept;  // allocated on the first Give()
  bool exiting;
};
struct Drain {
  Cache* cache;
  ~Drain() {
    cache->exiting = true;
    delete cache->kept;
    cache->kept = nullptr;
  }
};

Cache& Local() {
  thread_local Cache cache{};
  thread_local Drain drain{&cache};
  (void)drain;
  return cache;
}

}  // namespace

Fields FieldVectorCache::Take() {
#ifdef H2RPC_ASAN
  return {};
#else
  Cache& c = Local();
  if (c.kept == nullptr || c.kept->empty()) return {};
  Fields v = std::move(c.kept->back());
  c.kept->pop_back();
  return v;
#endif
}

void FieldVectorCache::Give(Fields v) {
#ifndef H2RPC_ASAN
  if (v.capacity() == 0 || v.capacity() > kMaxCapacity) return;
  Cache& c = Local();
  if (c.exiting) return;
  if (c.kept == nullptr) {
    c.kept = new std::vector<Fields>();
    c.kept->reserve(kMaxCount);
  }
  if (c.kept->size() >= kMaxCount) return;
  v.clear();
  c.kept->push_back(std::move(v));
#endif
}

size_t FieldVectorCache::Count() {
  Cache& c = Local();
  return c.kept == nullptr ? 0 : c.kept->size();
}

}  // namespace h2rpc::transport::internal
