// Http1Server: the allowHTTP1 hook of Http2Server, and the set of HTTP/1 connections.
#include "transport/http1/http1_server.h"

namespace h2rpc::transport {

std::shared_ptr<Http1Server> Http1Server::create(EventLoop* loop,
                                                 std::shared_ptr<RequestEvents> events,
                                                 Http1Options options) {
  return std::shared_ptr<Http1Server>(new Http1Server(loop, std::move(events), options));
}

std::shared_ptr<Http1Server> Http1Server::attach(Http2Server& server,
                                                 std::shared_ptr<RequestEvents> events,
                                                 Http1Options options) {
  auto http1 = create(server.loop(), std::move(events), options);
  server.setHttp1Handler([http1](std::unique_ptr<Socket> socket, std::string prefix) {
    http1->serve(std::move(socket), std::move(prefix));
  });
  return http1;
}

std::shared_ptr<Http1Connection> Http1Server::serve(std::unique_ptr<Socket> socket,
                                                    std::string prefix) {
  std::weak_ptr<RequestEvents> weak_events = events_;
  auto connection = Http1Connection::create(
      loop_, std::move(socket),
      [weak_events](std::shared_ptr<Http2ServerRequest> req,
                    std::shared_ptr<Http2ServerResponse> res) {
        if (auto events = weak_events.lock()) events->handleRequest(std::move(req), std::move(res));
      },
      options_, std::move(prefix));
  connections_.insert(connection);
  std::weak_ptr<Http1Server> weak = weak_from_this();
  std::weak_ptr<Http1Connection> weak_connection = connection;
  connection->onClose([weak, weak_connection] {
    auto self = weak.lock();
    auto c = weak_connection.lock();
    if (self && c) self->connections_.erase(c);
  });
  return connection;
}

Http1Server::~Http1Server() {
  for (const auto& c : connections_) c->abandon();
}

void Http1Server::closeAll() {
  auto all = connections_;
  for (const auto& c : all) c->close();
}

}  // namespace h2rpc::transport
