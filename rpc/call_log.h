// rpc/call_log.h — structured call logs from an interceptor pair: one record per finished call
// (side, method, peer, status, duration, messages each way), given to a sink of yours or
// written to stderr as one logfmt line:
//
//   server_options.interceptors.push_back(rpc::ServerCallLogger());
//   // h2rpc call: side=server method=/helloworld.Greeter/SayHello peer=127.0.0.1:53022
//   //   status=OK duration_ms=0.412 sent=1 received=1
//
// Abseil's logging (absl/log, LOG(INFO) and its structured sinks) is not in the Abseil that
// Debian 12 ships (20220623; absl/log came in 20230125), so the default sink is a plain line;
// pass a sink to send the records to your own logger.
//
// Threading: the sink runs on the call's loop thread; a sink shared by several loops (a
// ServerPool, channels on several loops) must be thread-safe (the default one is). Lifetime:
// the factories hold the sink (copied).
#ifndef H2RPC_RPC_CALL_LOG_H_
#define H2RPC_RPC_CALL_LOG_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "rpc/client_call.h"
#include "rpc/server_interceptor.h"

namespace h2rpc::rpc {

struct CallLogRecord {
  std::string side;    // "server" or "client"
  std::string method;  // "/package.Service/Method"
  std::string peer;    // server: the client's address; client: the channel's target
  absl::Status status;
  absl::Duration duration;
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
};

using CallLogSink = std::function<void(const CallLogRecord&)>;

// The record as one logfmt line (no newline): key=value pairs, values with spaces, quotes or
// '=' quoted with backslash escapes; the status message only when there is one.
std::string FormatCallLog(const CallLogRecord& record);

// Interceptor factories calling `sink` once per call, when it ends (null sink: stderr, one
// "h2rpc call: <FormatCallLog>" line). Install them first (outermost) to log what the
// application sees: the status after every other interceptor's OnFinish.
ServerInterceptorFactory ServerCallLogger(CallLogSink sink = nullptr);
ClientInterceptorFactory ClientCallLogger(CallLogSink sink = nullptr);

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CALL_LOG_H_
