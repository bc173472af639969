// transport/testing/run_until.h — test-only: RunUntil, which runs a UvLoop until a condition
// holds, bounded so that a hang fails the test instead of blocking it. The tests over real
// loopback sockets share it.
//
// Threading: the loop's thread. Lifetime: nothing kept; `done` is called until it returns true.
#ifndef H2RPC_TRANSPORT_TESTING_RUN_UNTIL_H_
#define H2RPC_TRANSPORT_TESTING_RUN_UNTIL_H_

#include <uv.h>

#include "transport/uv_loop.h"

namespace h2rpc::transport {

// Runs the loop until `done` (at most `max_iterations` turns); returns done().
template <typename F>
bool RunUntil(UvLoop& loop, F done, int max_iterations = 20000) {
  for (int i = 0; i < max_iterations && !done(); ++i) uv_run(loop.uv(), UV_RUN_ONCE);
  return done();
}

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_TESTING_RUN_UNTIL_H_
