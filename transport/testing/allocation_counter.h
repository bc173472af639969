// transport/testing/allocation_counter.h — AllocationCount(): how many times this test binary
// has called the global operator new (DeallocationCount(): operator delete). Linking
// //transport:allocation_counter replaces the global operator new/delete of the test binary with
// counting ones (as the standard allows), so every library linked in is counted: allocation
// budgets per call, per message or per post; blocks a cache gives back.
//
// The counter is atomic (relaxed): a test that starts threads still counts, but a budget is only
// deterministic when the code measured runs on the test's own thread (ManualLoop).
#ifndef H2RPC_TRANSPORT_TESTING_ALLOCATION_COUNTER_H_
#define H2RPC_TRANSPORT_TESTING_ALLOCATION_COUNTER_H_

#include <cstddef>

namespace h2rpc::transport::testing {

// Calls of the global operator new, in every form (array, aligned, nothrow), since the program
// started.
size_t AllocationCount();
// Calls of the global operator delete with a block (not null), in every form.
size_t DeallocationCount();

}  // namespace h2rpc::transport::testing

#endif  // H2RPC_TRANSPORT_TESTING_ALLOCATION_COUNTER_H_
