// transport/http1/http1_server.h — Http1Server: Node's allowHTTP1 for an Http2Server. Connections
// the server finds are not HTTP/2 (a cleartext one whose first bytes are not the HTTP/2 client
// preface; a TLS one that negotiated ALPN http/1.1 or no ALPN) are served as HTTP/1.1 through the
// same 'request' listeners (RequestEvents), with httpVersion "1.1".
//
//   ServerOptions options;
//   options.allowHTTP1 = true;                       // TLS: ALPN offers http/1.1 too
//   auto server = *Http2Server::createSecureServer(&loop, tls, options);
//   auto events = RequestEvents::attach(*server);
//   auto http1 = Http1Server::attach(*server, events);
//
// Threading: the server's loop thread. Lifetime: the server holds it (through its hook) as long
// as the server lives; each connection lives until its socket closes or the Http1Server goes.
#ifndef H2RPC_TRANSPORT_HTTP1_HTTP1_SERVER_H_
#define H2RPC_TRANSPORT_HTTP1_HTTP1_SERVER_H_

#include <memory>
#include <set>
#include <string>

#include "transport/compat/compat_server.h"
#include "transport/http1/connection.h"
#include "transport/server.h"

namespace h2rpc::transport {

class Http1Server : public std::enable_shared_from_this<Http1Server> {
 public:
  // Sets `server`'s HTTP/1 hook (Http2Server::setHttp1Handler). `events` gets the requests.
  static std::shared_ptr<Http1Server> attach(Http2Server& server,
                                             std::shared_ptr<RequestEvents> events,
                                             Http1Options options = {});
  // Without a server (tests, or a listener of your own): serves `socket` as HTTP/1.1.
  static std::shared_ptr<Http1Server> create(EventLoop* loop,
                                             std::shared_ptr<RequestEvents> events,
                                             Http1Options options = {});
  std::shared_ptr<Http1Connection> serve(std::unique_ptr<Socket> socket, std::string prefix = "");

  // Abandons the connections still open (no events): destroy it after closeAll() has let them
  // finish, or at teardown.
  ~Http1Server();

  size_t connectionCount() const { return connections_.size(); }
  // The open connections (a server lists them, counts their calls, waits for them to close).
  const std::set<std::shared_ptr<Http1Connection>>& connections() const { return connections_; }
  // Closes every connection after its response in progress.
  void closeAll();

 private:
  Http1Server(EventLoop* loop, std::shared_ptr<RequestEvents> events, Http1Options options)
      : loop_(loop), events_(std::move(events)), options_(options) {}

  EventLoop* loop_;
  std::shared_ptr<RequestEvents> events_;
  Http1Options options_;
  std::set<std::shared_ptr<Http1Connection>> connections_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_HTTP1_HTTP1_SERVER_H_
