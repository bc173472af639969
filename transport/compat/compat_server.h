// transport/compat/compat_server.h — node:http2's compatibility API on a server: the 'request',
// 'checkContinue', 'checkExpectation' and 'connect' events of Http2Server (Node's
// onServerStream in lib/internal/http2/compat.js).
//
//   auto events = RequestEvents::attach(*server);      // or attach(*session) in tests
//   events->onRequest([](std::shared_ptr<Http2ServerRequest> req,
//                        std::shared_ptr<Http2ServerResponse> res) {
//     res->setHeader("content-type", "text/plain");
//     res->end("hello\n");
//   });
//
// Node adds these events to the server object itself; here they live on a RequestEvents attached
// to the server's (or a session's) 'stream' event, which keeps transport/'s core free of the
// compat layer. As in Node, streams are turned into (req, res) only while a 'request' listener is
// set; the 'stream' event still fires for every stream.
//
// Threading: the loop thread only. Lifetime: attach() returns a shared_ptr that the server's (or
// session's) 'stream' listener also holds: it lives as long as that server or session.
#ifndef H2RPC_TRANSPORT_COMPAT_COMPAT_SERVER_H_
#define H2RPC_TRANSPORT_COMPAT_COMPAT_SERVER_H_

#include <functional>
#include <memory>

#include "transport/compat/server_request.h"
#include "transport/compat/server_response.h"
#include "transport/event.h"
#include "transport/server.h"
#include "transport/session.h"

namespace h2rpc::transport {

class RequestEvents : public std::enable_shared_from_this<RequestEvents> {
 public:
  using RequestListener = std::function<void(std::shared_ptr<Http2ServerRequest>,
                                             std::shared_ptr<Http2ServerResponse>)>;

  static std::shared_ptr<RequestEvents> attach(Http2Server& server);
  static std::shared_ptr<RequestEvents> attach(ServerHttp2Session& session);
  // Attached to nothing: requests come through handleRequest() (an HTTP/1-only server, tests).
  static std::shared_ptr<RequestEvents> create() {
    return std::shared_ptr<RequestEvents>(new RequestEvents());
  }

  // Node's server.on('request'): every stream (but those below) as (req, res).
  ListenerId onRequest(RequestListener fn) { return request_event_.on(std::move(fn)); }
  // A request with `expect: 100-continue`: with a listener, it gets the request instead of
  // 'request' and decides (res->writeContinue(), or a final status); without one, 100 Continue
  // is sent and the request goes to 'request'.
  ListenerId onCheckContinue(RequestListener fn) { return continue_event_.on(std::move(fn)); }
  // Any other `expect` value; without a listener, the answer is 417 Expectation Failed.
  ListenerId onCheckExpectation(RequestListener fn) {
    return expectation_event_.on(std::move(fn));
  }
  // :method CONNECT; without a listener, the answer is 405 Method Not Allowed.
  ListenerId onConnect(RequestListener fn) { return connect_event_.on(std::move(fn)); }
  void off(ListenerId id);

  // Node's onServerStream: what the 'stream' listener calls for each stream.
  void handleStream(std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers);
  // The same for a request made elsewhere (an HTTP/1.1 exchange, transport/http1/).
  void handleRequest(std::shared_ptr<Http2ServerRequest> req,
                     std::shared_ptr<Http2ServerResponse> res);
  // Whether a 'request' listener is set (Node sets up the compat layer with the first one).
  bool active() const { return request_event_.listenerCount() > 0; }

 private:
  RequestEvents() = default;

  Event<std::shared_ptr<Http2ServerRequest>, std::shared_ptr<Http2ServerResponse>>
      request_event_, continue_event_, expectation_event_, connect_event_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_COMPAT_COMPAT_SERVER_H_
