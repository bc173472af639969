#include "rpc/dns_service_config.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <unistd.h>

#include <climits>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "rpc/struct_entries.pb.h"

namespace h2rpc::rpc {

namespace {

constexpr absl::string_view kPrefix = "grpc_config=";

using google::protobuf::ListValue;
using google::protobuf::Value;

absl::Status ChoiceError(int index, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("grpc_config TXT record: choice ", index, ": ", what));
}

// A list of strings, or the error naming `field`.
absl::StatusOr<std::vector<std::string>> StringList(const Value& value, int index,
                                                    absl::string_view field) {
  if (value.kind_case() != Value::kListValue) {
    return ChoiceError(index, absl::StrCat("\"", field, "\" is not an array"));
  }
  std::vector<std::string> out;
  for (const Value& v : value.list_value().values()) {
    if (v.kind_case() != Value::kStringValue) {
      return ChoiceError(index, absl::StrCat("\"", field, "\" holds a non-string"));
    }
    out.push_back(v.string_value());
  }
  return out;
}

bool ContainsIgnoringCase(const std::vector<std::string>& list, absl::string_view s) {
  for (const std::string& x : list) {
    if (absl::EqualsIgnoreCase(x, s)) return true;
  }
  return false;
}

// One worker thread for the blocking res_query() calls (resolutions are rare: one per
// connection the channel makes). Made on first use and never destroyed, as a process-wide
// resolver thread would be.
class TxtWorker {
 public:
  static TxtWorker& Get() {
    static TxtWorker* worker = new TxtWorker();
    return *worker;
  }
  void Submit(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

 private:
  TxtWorker() {
    std::thread([this] { Run(); }).detach();
  }
  void Run() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
};

absl::StatusOr<TxtRecords> QueryTxt(const std::string& name) {
  struct __res_state state = {};
  if (res_ninit(&state) != 0) return absl::UnavailableError("res_ninit failed");
  std::vector<unsigned char> answer(65536);
  const int n = res_nquery(&state, name.c_str(), ns_c_in, ns_t_txt, answer.data(),
                           static_cast<int>(answer.size()));
  const int h_error = state.res_h_errno;
  res_nclose(&state);
  if (n < 0) {
    if (h_error == HOST_NOT_FOUND || h_error == NO_DATA) {
      return absl::NotFoundError(absl::StrCat("no TXT record for ", name));
    }
    return absl::UnavailableError(
        absl::StrCat("TXT lookup of ", name, " failed: ", hstrerror(h_error)));
  }
  return ParseTxtAnswer(answer.data(), n);
}

}  // namespace

std::string GrpcConfigTxtName(std::string_view host) {
  return absl::StrCat("_grpc_config.", absl::string_view(host.data(), host.size()));
}

std::optional<std::string> GrpcConfigFromTxt(const TxtRecords& records) {
  for (const std::vector<std::string>& record : records) {
    std::string joined;
    for (const std::string& s : record) joined += s;
    if (absl::StartsWith(joined, kPrefix)) return joined.substr(kPrefix.size());
  }
  return std::nullopt;
}

// The value of `key` in a JSON object's entries (the last one if repeated, as a map keeps), or
// null.
static const Value* Field(const internal::StructEntries& entries, std::string_view key) {
  const Value* found = nullptr;
  for (const internal::StructEntries::Entry& entry : entries.fields()) {
    if (entry.key() == key) found = &entry.value();
  }
  return found;
}

absl::StatusOr<std::optional<std::string>> ChooseServiceConfig(
    std::string_view choices_json, const ServiceConfigChoiceContext& context) {
  ListValue choices;
  google::protobuf::util::JsonParseOptions parse;
  if (auto st = google::protobuf::util::JsonStringToMessage(
          std::string(choices_json), &choices, parse);
      !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grpc_config TXT record: not a JSON array: ", std::string(st.message())));
  }
  // Every choice is checked, the chosen one and the others: a malformed record is refused
  // whole rather than half-used.
  std::optional<int> chosen;
  google::protobuf::Struct chosen_struct;  // its serviceConfig
  for (int i = 0; i < choices.values_size(); ++i) {
    const Value& choice = choices.values(i);
    if (choice.kind_case() != Value::kStructValue) return ChoiceError(i, "not an object");
    // The object's entries as a list (rpc/struct_entries.proto says why not its map).
    internal::StructEntries fields;
    if (!fields.ParseFromString(choice.struct_value().SerializeAsString())) {
      return ChoiceError(i, "not an object");
    }
    bool applies = true;
    if (const Value* language = Field(fields, "clientLanguage")) {
      auto languages = StringList(*language, i, "clientLanguage");
      if (!languages.ok()) return languages.status();
      if (!ContainsIgnoringCase(*languages, context.client_language)) applies = false;
    }
    if (const Value* percentage = Field(fields, "percentage")) {
      if (percentage->kind_case() != Value::kNumberValue) {
        return ChoiceError(i, "\"percentage\" is not a number");
      }
      const double p = percentage->number_value();
      if (!(p >= 0 && p <= 100) || std::floor(p) != p) {
        return ChoiceError(i, "\"percentage\" is not an integer in [0, 100]");
      }
      if (!(context.random_percent < static_cast<int>(p))) applies = false;
    }
    if (const Value* hostname = Field(fields, "clientHostname")) {
      auto hosts = StringList(*hostname, i, "clientHostname");
      if (!hosts.ok()) return hosts.status();
      if (!ContainsIgnoringCase(*hosts, context.hostname)) applies = false;
    }
    const Value* config = Field(fields, "serviceConfig");
    if (config == nullptr) return ChoiceError(i, "no \"serviceConfig\"");
    if (config->kind_case() != Value::kStructValue) {
      return ChoiceError(i, "\"serviceConfig\" is not an object");
    }
    if (applies && !chosen) {
      chosen = i;
      chosen_struct.CopyFrom(config->struct_value());
    }
  }
  if (!chosen) return std::optional<std::string>();
  std::string json;
  if (auto st = google::protobuf::util::MessageToJsonString(chosen_struct, &json);
      !st.ok()) {
    return ChoiceError(*chosen, std::string(st.message()));
  }
  return std::optional<std::string>(std::move(json));
}

DnsServiceConfig ServiceConfigFromTxtAnswer(const absl::StatusOr<TxtRecords>& answer,
                                            const ServiceConfigChoiceContext& context) {
  DnsServiceConfig out;
  if (!answer.ok()) {
    // No record at all is the common case, not a problem.
    if (answer.status().code() != absl::StatusCode::kNotFound) out.error = answer.status();
    return out;
  }
  std::optional<std::string> choices = GrpcConfigFromTxt(*answer);
  if (!choices) return out;
  auto chosen = ChooseServiceConfig(*choices, context);
  if (!chosen.ok()) {
    out.error = chosen.status();
  } else {
    out.service_config = std::move(*chosen);
  }
  return out;
}

std::string LocalHostname() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

void ResQueryTxtLookup(transport::UvLoop* loop, const std::string& name, TxtCallback done) {
  std::shared_ptr<transport::LoopExecutor> executor = loop->executor();
  TxtWorker::Get().Submit([executor, name, done = std::move(done)]() mutable {
    absl::StatusOr<TxtRecords> answer = QueryTxt(name);
    // Back to the loop (a loop already gone drops the answer).
    (void)executor->post([done = std::move(done), answer = std::move(answer)]() mutable {
      done(std::move(answer));
    });
  });
}

absl::StatusOr<TxtRecords> ParseTxtAnswer(const unsigned char* message, int length) {
  if (message == nullptr || length <= 0) {
    return absl::InvalidArgumentError("empty DNS answer");
  }
  ns_msg handle;
  if (ns_initparse(message, length, &handle) != 0) {
    return absl::InvalidArgumentError("malformed DNS answer");
  }
  TxtRecords records;
  const int count = ns_msg_count(handle, ns_s_an);
  for (int i = 0; i < count; ++i) {
    ns_rr rr;
    if (ns_parserr(&handle, ns_s_an, i, &rr) != 0) {
      return absl::InvalidArgumentError("malformed DNS answer record");
    }
    if (ns_rr_type(rr) != ns_t_txt) continue;  // e.g. a CNAME on the way
    const unsigned char* p = ns_rr_rdata(rr);
    const unsigned char* end = p + ns_rr_rdlen(rr);
    std::vector<std::string> strings;
    while (p < end) {
      const size_t len = *p++;
      if (len > static_cast<size_t>(end - p)) {
        return absl::InvalidArgumentError("malformed TXT record: a string past its end");
      }
      strings.emplace_back(reinterpret_cast<const char*>(p), len);
      p += len;
    }
    records.push_back(std::move(strings));
  }
  if (records.empty()) return absl::NotFoundError("no TXT record in the DNS answer");
  return records;
}

}  // namespace h2rpc::rpc
