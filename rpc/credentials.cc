#include "rpc/credentials.h"

#include <atomic>
#include <exception>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace h2rpc::rpc {
namespace {

class StaticCredentials : public CallCredentials {
 public:
  StaticCredentials(absl::StatusOr<Metadata> metadata, bool require_security)
      : metadata_(std::move(metadata)), require_security_(require_security) {}
  void GetRequestMetadata(const AuthMetadataContext&, MetadataCallback done) override {
    done(metadata_);
  }
  bool RequireTransportSecurity() const override { return require_security_; }

 private:
  const absl::StatusOr<Metadata> metadata_;
  const bool require_security_;
};

class Composite : public CallCredentials {
 public:
  explicit Composite(std::vector<std::shared_ptr<CallCredentials>> parts)
      : parts_(std::move(parts)) {}
  // Only used when someone calls a composite directly: the parts run in order, each from the
  // previous one's callback. FetchCallMetadata() instead hops back to the loop between parts.
  void GetRequestMetadata(const AuthMetadataContext& context, MetadataCallback done) override {
    Run(0, context, Metadata(), std::move(done));
  }
  bool RequireTransportSecurity() const override {
    for (const auto& p : parts_) {
      if (p->RequireTransportSecurity()) return true;
    }
    return false;
  }
  const std::vector<std::shared_ptr<CallCredentials>>& parts() const { return parts_; }

 private:
  void Run(size_t i, AuthMetadataContext context, Metadata so_far, MetadataCallback done) {
    if (i == parts_.size()) {
      done(std::move(so_far));
      return;
    }
    parts_[i]->GetRequestMetadata(
        context, [this, i, context, so_far = std::move(so_far),
                  done = std::move(done)](absl::StatusOr<Metadata> got) mutable {
          if (!got.ok()) {
            done(got.status());
            return;
          }
          for (const auto& [k, v] : *got) (void)so_far.Add(k, v);
          Run(i + 1, std::move(context), std::move(so_far), std::move(done));
        });
  }
  const std::vector<std::shared_ptr<CallCredentials>> parts_;
};

// Fetches parts_[i..] of a composite, one loop hop per part, accumulating into `so_far`. The
// callbacks hold the composite weakly: a plugin may keep its callback (a cycle otherwise), and
// the caller keeps the composite while it waits (see FetchCallMetadata).
void FetchParts(transport::UvLoop* loop, const std::shared_ptr<Composite>& composite, size_t i,
                AuthMetadataContext context, Metadata so_far,
                std::function<void(absl::StatusOr<Metadata>)> done) {
  const auto& parts = composite->parts();
  if (i == parts.size()) {
    done(std::move(so_far));
    return;
  }
  std::weak_ptr<Composite> weak = composite;
  internal::FetchCallMetadata(
      loop, parts[i], context,
      [loop, weak, i, context, so_far = std::move(so_far),
       done = std::move(done)](absl::StatusOr<Metadata> got) mutable {
        if (!got.ok()) {
          done(got.status());
          return;
        }
        auto composite = weak.lock();
        if (!composite) return;  // the caller gave up
        for (const auto& [k, v] : *got) (void)so_far.Add(k, v);
        FetchParts(loop, composite, i + 1, std::move(context), std::move(so_far),
                   std::move(done));
      });
}

}  // namespace

void CoroutineCallCredentials::GetRequestMetadata(const AuthMetadataContext& context,
                                                  MetadataCallback done) {
  auto shared_done = std::make_shared<MetadataCallback>(std::move(done));
  // The running task holds its plugin (`this` in its frame) until it finishes.
  std::shared_ptr<CallCredentials> self = shared_from_this();
  GetMetadata(context).Start(
      [shared_done, self](absl::StatusOr<Metadata> result) { (*shared_done)(std::move(result)); },
      [shared_done, self](std::exception_ptr e) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          what = ex.what();
        } catch (...) {
        }
        (*shared_done)(absl::InternalError(
            absl::StrCat("call credentials plugin threw an exception: ", what)));
      });
}

std::shared_ptr<CallCredentials> BearerTokenCredentials(std::string token,
                                                        CallCredentialsOptions options) {
  Metadata metadata;
  absl::Status added = metadata.Add("authorization", absl::StrCat("Bearer ", token));
  absl::StatusOr<Metadata> result = std::move(metadata);
  if (!added.ok()) {
    // Not the token itself in the message: it is a secret.
    result = absl::InvalidArgumentError(
        "BearerTokenCredentials: the token must be printable ASCII (not shown)");
  }
  return std::make_shared<StaticCredentials>(std::move(result), !options.allow_insecure);
}

std::shared_ptr<CallCredentials> StaticMetadataCredentials(Metadata metadata,
                                                           CallCredentialsOptions options) {
  return std::make_shared<StaticCredentials>(std::move(metadata), !options.allow_insecure);
}

std::shared_ptr<CallCredentials> CompositeCallCredentials(
    std::vector<std::shared_ptr<CallCredentials>> parts) {
  std::vector<std::shared_ptr<CallCredentials>> kept;
  for (auto& p : parts) {
    if (p) kept.push_back(std::move(p));
  }
  return std::make_shared<Composite>(std::move(kept));
}

namespace internal {

AuthMetadataContext MakeAuthMetadataContext(const std::string& authority, const std::string& path,
                                            bool secure) {
  AuthMetadataContext context;
  context.authority = authority;
  context.secure = secure;
  std::string host = authority;
  if (absl::EndsWith(host, ":443")) host.resize(host.size() - 4);
  std::string service = path;
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    service = path.substr(0, slash);
    context.method_name = path.substr(slash + 1);
  }
  context.service_url = absl::StrCat("https://", host, service);
  return context;
}

absl::Status RestrictControlPlaneStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kDataLoss:
      return absl::InternalError(
          absl::StrCat("Illegal status code from call credentials; original status: ",
                       absl::StatusCodeToString(status.code()), ": ", status.message()));
    default:
      return status;
  }
}

void FetchCallMetadata(transport::UvLoop* loop, const std::shared_ptr<CallCredentials>& credentials,
                       const AuthMetadataContext& context,
                       std::function<void(absl::StatusOr<Metadata>)> done) {
  if (auto composite = std::dynamic_pointer_cast<Composite>(credentials)) {
    FetchParts(loop, composite, 0, context, Metadata(), std::move(done));
    return;
  }
  // The plugin may answer at once, later, from another thread, or (a bug) twice: the first
  // answer is posted to the loop, the others are ignored.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<transport::LoopExecutor> executor = loop->executor();
  auto shared_done =
      std::make_shared<std::function<void(absl::StatusOr<Metadata>)>>(std::move(done));
  credentials->GetRequestMetadata(
      context, [answered, executor, shared_done](absl::StatusOr<Metadata> got) {
        if (answered->exchange(true)) return;
        if (!got.ok()) got = RestrictControlPlaneStatus(got.status());
        executor->post([shared_done, got = std::move(got)]() mutable {
          (*shared_done)(std::move(got));
        });
      });
}

}  // namespace internal
}  // namespace h2rpc::rpc
