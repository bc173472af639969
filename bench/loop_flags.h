// bench/loop_flags.h — the event-loop flags of bench_server and bench_client: how their UvLoops
// poll before sleeping (transport::UvLoopOptions; bench/README.md, "Latency").
//
//   --busy_poll_us=N          fixed busy polling: poll N µs after I/O before sleeping (0: off)
//   --adaptive_poll_max_us=N  adaptive idle polling's maximum window; 0 turns it off (always
//                             sleep, as Node's loop does); -1 (the default) keeps the library's
#ifndef H2RPC_BENCH_LOOP_FLAGS_H_
#define H2RPC_BENCH_LOOP_FLAGS_H_

#include "transport/uv_loop.h"

namespace h2rpc::bench {

// UvLoopOptions from the flags above.
transport::UvLoopOptions LoopOptionsFromFlags();

}  // namespace h2rpc::bench

#endif  // H2RPC_BENCH_LOOP_FLAGS_H_
