#include "rpc/call_log.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "rpc/client_interceptor.h"

namespace h2rpc::rpc {

namespace {

std::string Value(absl::string_view v) {
  const bool plain = !v.empty() && v.find_first_of(" \"=\\\n\t") == absl::string_view::npos;
  if (plain) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

void WriteToStderr(const CallLogRecord& record) {
  // One write per line: lines of calls on several threads do not interleave.
  const std::string line = absl::StrCat("h2rpc call: ", FormatCallLog(record), "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

// What both sides' loggers keep: the record being filled and where it goes when the call ends.
class CallLog {
 public:
  CallLog(std::shared_ptr<const CallLogSink> sink, std::string side, std::string method,
          std::string peer)
      : sink_(std::move(sink)), start_(absl::Now()) {
    record_.side = std::move(side);
    record_.method = std::move(method);
    record_.peer = std::move(peer);
  }
  void Sent(const std::optional<std::string>& message) {
    if (message) ++record_.messages_sent;
  }
  void Received(const std::optional<std::string>& message) {
    if (message) ++record_.messages_received;
  }
  void Finish(const absl::Status& status) {
    record_.status = status;
    record_.duration = absl::Now() - start_;
    (*sink_ ? *sink_ : WriteToStderr)(record_);
  }

 private:
  std::shared_ptr<const CallLogSink> sink_;  // a call may outlive its server or channel
  absl::Time start_;
  CallLogRecord record_;
};

class ServerLogger : public ServerInterceptor {
 public:
  ServerLogger(std::shared_ptr<const CallLogSink> sink, ServerCall& call)
      : log_(std::move(sink), "server", call.method(), call.peer()) {}
  Task<absl::Status> OnRequest(ServerCall&, std::optional<std::string>& message) override {
    log_.Received(message);
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnResponse(ServerCall&, std::optional<std::string>& message) override {
    log_.Sent(message);
    co_return absl::OkStatus();
  }
  void OnFinish(ServerCall&, absl::Status& status) override { log_.Finish(status); }

 private:
  CallLog log_;
};

class ClientLogger : public ClientInterceptor {
 public:
  ClientLogger(std::shared_ptr<const CallLogSink> sink, ClientCall& call)
      : log_(std::move(sink), "client", call.method(), call.channel()->target()) {}
  Task<absl::Status> OnSend(ClientCall&, std::optional<std::string>& message) override {
    log_.Sent(message);
    co_return absl::OkStatus();
  }
  Task<absl::Status> OnReceive(ClientCall&, std::optional<std::string>& message) override {
    log_.Received(message);
    co_return absl::OkStatus();
  }
  void OnFinish(ClientCall&, absl::Status& status) override { log_.Finish(status); }

 private:
  CallLog log_;
};

}  // namespace

std::string FormatCallLog(const CallLogRecord& r) {
  std::string out = absl::StrCat(
      "side=", Value(r.side), " method=", Value(r.method), " peer=", Value(r.peer),
      " status=", absl::StatusCodeToString(r.status.code()),
      absl::StrFormat(" duration_ms=%.3f", absl::ToDoubleMilliseconds(r.duration)),
      " sent=", r.messages_sent, " received=", r.messages_received);
  if (!r.status.message().empty()) absl::StrAppend(&out, " message=", Value(r.status.message()));
  return out;
}

ServerInterceptorFactory ServerCallLogger(CallLogSink sink) {
  auto shared = std::make_shared<const CallLogSink>(std::move(sink));
  return [shared](ServerCall& call) -> std::unique_ptr<ServerInterceptor> {
    return std::make_unique<ServerLogger>(shared, call);
  };
}

ClientInterceptorFactory ClientCallLogger(CallLogSink sink) {
  auto shared = std::make_shared<const CallLogSink>(std::move(sink));
  return [shared](ClientCall& call) -> std::unique_ptr<ClientInterceptor> {
    return std::make_unique<ClientLogger>(shared, call);
  };
}

}  // namespace h2rpc::rpc
