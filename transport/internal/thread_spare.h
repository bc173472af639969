// transport/internal/thread_spare.h — ThreadSpare<T>: one spare vector per thread, for vectors
// that are filled and emptied again within one step of a session (a batch of output segments,
// a turn's parsed events, the pieces of one DATA frame). The capacity those steps need is kept
// between them on the thread instead of in every session or stream, so an idle connection or a
// waiting stream holds none, while a busy thread still allocates no vector per step.
//
// Users of one thread take it one at a time; a nested use (a listener making another session
// write) finds none and allocates its own, and give() keeps the larger of the two.
#ifndef H2RPC_TRANSPORT_INTERNAL_THREAD_SPARE_H_
#define H2RPC_TRANSPORT_INTERNAL_THREAD_SPARE_H_

#include <utility>
#include <vector>

namespace h2rpc::transport::internal {

template <typename T>
class ThreadSpare {
 public:
  // The thread's spare (empty, with the capacity it kept), or an empty vector.
  static std::vector<T> take() { return std::move(spare()); }  // leaves spare() empty, unallocated
  // Before a push_back: `v`, empty, takes the thread's spare if it has no memory of its own.
  static void fill(std::vector<T>& v) {
    if (v.capacity() == 0) v = take();
  }
  // Gives `v`'s capacity to the thread (cleared) if it holds more than the spare; else frees it.
  static void give(std::vector<T>& v) {
    if (v.capacity() == 0) return;
    v.clear();
    std::vector<T>& s = spare();
    if (v.capacity() > s.capacity()) {
      s.swap(v);
    }
    std::vector<T>().swap(v);  // v holds no memory after this
  }

 private:
  static std::vector<T>& spare() {
    static thread_local std::vector<T> vector;
    return vector;
  }
};

}  // namespace h2rpc::transport::internal

#endif  // H2RPC_TRANSPORT_INTERNAL_THREAD_SPARE_H_
