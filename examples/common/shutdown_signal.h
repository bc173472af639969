// examples/common/shutdown_signal.h — runs a callback once on SIGINT or SIGTERM (then stops
// watching, so that the loop can end), for the example servers' graceful shutdown.
//
// Threading: the loop's thread. Lifetime: the handles close themselves after the first signal;
// the loop must outlive them.
#ifndef H2RPC_EXAMPLES_COMMON_SHUTDOWN_SIGNAL_H_
#define H2RPC_EXAMPLES_COMMON_SHUTDOWN_SIGNAL_H_

#include <uv.h>

#include <csignal>
#include <functional>
#include <memory>

#include "transport/uv_loop.h"

namespace h2rpc::examples {

inline void OnShutdownSignal(transport::UvLoop* loop, std::function<void(int signum)> callback) {
  struct Watch {
    uv_signal_t handles[2];
    std::function<void(int)> callback;
    int open = 2;
  };
  auto* watch = new Watch{{}, std::move(callback)};
  const int signums[2] = {SIGINT, SIGTERM};
  for (int i = 0; i < 2; ++i) {
    uv_signal_init(loop->uv(), &watch->handles[i]);
    watch->handles[i].data = watch;
    uv_signal_start(
        &watch->handles[i],
        [](uv_signal_t* sig, int signum) {
          auto* w = static_cast<Watch*>(sig->data);
          auto callback = std::move(w->callback);
          for (uv_signal_t& h : w->handles) {
            uv_signal_stop(&h);
            uv_close(reinterpret_cast<uv_handle_t*>(&h), [](uv_handle_t* hd) {
              auto* ww = static_cast<Watch*>(hd->data);
              if (--ww->open == 0) delete ww;
            });
          }
          if (callback) callback(signum);
        },
        signums[i]);
  }
}

}  // namespace h2rpc::examples

#endif  // H2RPC_EXAMPLES_COMMON_SHUTDOWN_SIGNAL_H_
