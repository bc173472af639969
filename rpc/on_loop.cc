#include "rpc/on_loop.h"

#include <cstdio>
#include <cstdlib>

namespace h2rpc::rpc::internal {

void BlockOnFailed() {
  std::fprintf(stderr,
               "h2rpc: BlockOn() was called on the loop's own thread, or its loop was destroyed "
               "before the task ended\n");
  std::abort();
}

}  // namespace h2rpc::rpc::internal
