// rpc/credentials.h — per-call credentials (gRPC's CallCredentials / grpc-go's PerRPCCredentials):
// a plugin that gives each call metadata (an OAuth token, an API key...) before its request
// headers go out. Set on the channel (ChannelOptions::call_credentials: every call) and/or on
// one call (CallOptions::credentials); with both, the channel's run first, then the call's, and
// the metadata of both is sent (gRPC C++ composes them the same way).
//
//   ChannelOptions options;
//   options.use_tls = true;
//   options.tls.caFile = "ca.pem";
//   options.call_credentials = BearerTokenCredentials("s3cr3t");   // authorization: Bearer s3cr3t
//
// Asynchronous plugins: GetRequestMetadata() may answer later (from any thread), or derive from
// CoroutineCallCredentials and `co_await` in GetMetadata() (a token refresh over another call).
//
// Security: a plugin whose RequireTransportSecurity() is true (the default, and the ready-made
// ones unless told otherwise) is never asked for metadata on a cleartext channel: the call fails
// with UNAUTHENTICATED "transport: cannot send secure credentials on an insecure connection", as
// grpc-go does (gRPC C++ fails such calls with UNAUTHENTICATED too). Tokens do not leak in clear.
//
// Errors: a plugin's error fails the call with its code and message, except the codes gRFC A54
// says a control plane must not produce (OK, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
// FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, DATA_LOSS), which become INTERNAL. Metadata keys
// starting with "grpc-" cannot be given (Metadata::Add refuses them).
//
// Threading: GetRequestMetadata() is called on the channel's loop thread; its callback may be
// called from any thread (the result is posted to the loop). A credentials object may be shared
// by many channels and calls at once, so its methods must be safe to call concurrently (the
// ready-made ones are immutable). Lifetime: shared_ptr, held by the channel options and by each
// call until its metadata came back.
#ifndef H2RPC_RPC_CREDENTIALS_H_
#define H2RPC_RPC_CREDENTIALS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rpc/metadata.h"
#include "rpc/task.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {

// What a plugin learns about the call it signs (gRPC's AuthMetadataContext).
struct AuthMetadataContext {
  // "https://<authority>/<package.Service>" (":443" dropped, as gRPC does): the audience of a
  // JWT, for example.
  std::string service_url;
  // "Method" (the last part of the path).
  std::string method_name;
  // The call's :authority.
  std::string authority;
  // Whether the channel uses TLS (a plugin that allows cleartext may want to know).
  bool secure = false;
};

// Made with std::make_shared (a coroutine plugin holds itself while its task runs).
class CallCredentials : public std::enable_shared_from_this<CallCredentials> {
 public:
  using MetadataCallback = std::function<void(absl::StatusOr<Metadata>)>;
  virtual ~CallCredentials() = default;
  // Calls `done` once, with the metadata to add to the call or an error (see the top of this
  // file), at once or later and from any thread. Never called for a call that requires transport
  // security on a cleartext channel.
  virtual void GetRequestMetadata(const AuthMetadataContext& context, MetadataCallback done) = 0;
  // True (the default): refuse to run over cleartext. A plugin that carries nothing secret (a
  // tenant id, a tracing tag) may return false.
  virtual bool RequireTransportSecurity() const { return true; }
};

// A plugin written as a coroutine. The task runs on the channel's loop (it may co_await calls
// on that loop's channels, a Sleep, ...); an exception it throws fails the call with INTERNAL.
class CoroutineCallCredentials : public CallCredentials {
 public:
  virtual Task<absl::StatusOr<Metadata>> GetMetadata(AuthMetadataContext context) = 0;
  void GetRequestMetadata(const AuthMetadataContext& context, MetadataCallback done) final;
};

struct CallCredentialsOptions {
  // Send over cleartext channels too (RequireTransportSecurity() false). For tests and for
  // connections secured otherwise (a Unix socket, a service mesh's sidecar).
  bool allow_insecure = false;
};

// "authorization: Bearer <token>". INVALID_ARGUMENT for every call if the token is not
// printable ASCII.
std::shared_ptr<CallCredentials> BearerTokenCredentials(std::string token,
                                                        CallCredentialsOptions options = {});
// The same metadata on every call (an API key...).
std::shared_ptr<CallCredentials> StaticMetadataCredentials(Metadata metadata,
                                                           CallCredentialsOptions options = {});
// Runs `parts` in order and sends all their metadata; the first error fails the call. Requires
// transport security if any part does. Null parts are skipped.
std::shared_ptr<CallCredentials> CompositeCallCredentials(
    std::vector<std::shared_ptr<CallCredentials>> parts);

namespace internal {

// The context for a call of `path` ("/pkg.Service/Method") to `authority`.
AuthMetadataContext MakeAuthMetadataContext(const std::string& authority, const std::string& path,
                                            bool secure);
// gRFC A54: the codes a plugin may not produce become INTERNAL.
absl::Status RestrictControlPlaneStatus(const absl::Status& status);
// Asks `credentials` for a call's metadata and hands the result (restricted as above) to
// `done` on `loop`'s thread, from a posted callback (never inside this call). If the loop is
// gone, `done` is dropped unrun. The caller keeps `credentials` alive until `done` runs; the
// callbacks do not (a plugin may keep its callback: that would be a cycle).
void FetchCallMetadata(transport::UvLoop* loop, const std::shared_ptr<CallCredentials>& credentials,
                       const AuthMetadataContext& context,
                       std::function<void(absl::StatusOr<Metadata>)> done);

}  // namespace internal
}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_CREDENTIALS_H_
