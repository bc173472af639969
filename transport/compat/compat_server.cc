// RequestEvents: Node's onServerStream (lib/internal/http2/compat.js) on our 'stream' event.
#include "transport/compat/compat_server.h"

namespace h2rpc::transport {

std::shared_ptr<RequestEvents> RequestEvents::attach(Http2Server& server) {
  std::shared_ptr<RequestEvents> events(new RequestEvents());
  server.onStream([events](std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers,
                           uint8_t) { events->handleStream(std::move(stream), headers); });
  return events;
}

std::shared_ptr<RequestEvents> RequestEvents::attach(ServerHttp2Session& session) {
  std::shared_ptr<RequestEvents> events(new RequestEvents());
  session.onStream([events](std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers,
                            uint8_t) { events->handleStream(std::move(stream), headers); });
  return events;
}

void RequestEvents::off(ListenerId id) {
  request_event_.off(id) || continue_event_.off(id) || expectation_event_.off(id) ||
      connect_event_.off(id);
}

void RequestEvents::handleStream(std::shared_ptr<ServerHttp2Stream> stream,
                                 const Headers& headers) {
  // Node sets up the compat layer when the first 'request' listener is added.
  if (!active()) return;
  auto exchange = std::make_shared<Http2CompatStream>(std::move(stream));
  auto req = Http2ServerRequest::create(exchange, headers, std::nullopt);
  auto res = Http2ServerResponse::create(exchange, req);
  handleRequest(std::move(req), std::move(res));
}

void RequestEvents::handleRequest(std::shared_ptr<Http2ServerRequest> req,
                                  std::shared_ptr<Http2ServerResponse> res) {
  const Headers& headers = req->headers();
  if (req->method() == "CONNECT") {
    if (!connect_event_.emit(req, res)) {
      (void)res->setStatusCode(405);  // Method Not Allowed
      res->end();
    }
    return;
  }
  if (std::optional<std::string> expect = headers.get("expect")) {
    if (*expect == "100-continue") {
      if (continue_event_.listenerCount() > 0) {
        continue_event_.emit(req, res);
      } else {
        res->writeContinue();
        request_event_.emit(req, res);
      }
    } else if (!expectation_event_.emit(req, res)) {
      (void)res->setStatusCode(417);  // Expectation Failed
      res->end();
    }
    return;
  }
  request_event_.emit(req, res);
}

}  // namespace h2rpc::transport
