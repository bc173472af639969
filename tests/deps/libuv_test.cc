// libuv links and runs: a timer fires on the loop, and the loop ends by itself once nothing is left.
#include <uv.h>

#include "gtest/gtest.h"

namespace {

TEST(LibuvTest, TimerFiresThenLoopEnds) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  uv_timer_t timer;
  ASSERT_EQ(uv_timer_init(&loop, &timer), 0);
  int fired = 0;
  timer.data = &fired;
  ASSERT_EQ(uv_timer_start(
                &timer, [](uv_timer_t* t) { ++*static_cast<int*>(t->data); }, 5, 0),
            0);
  uint64_t before = uv_now(&loop);
  EXPECT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  EXPECT_EQ(fired, 1);
  EXPECT_GE(uv_now(&loop) - before, 5u);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
