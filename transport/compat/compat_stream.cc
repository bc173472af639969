// Http2CompatStream: the connection information comes from the stream's session.
#include "transport/compat/compat_stream.h"

#include "transport/session.h"

namespace h2rpc::transport {

Http2CompatStream::Http2CompatStream(std::shared_ptr<ServerHttp2Stream> stream)
    : stream_(std::move(stream)),
      loop_(stream_->session() ? stream_->session()->loop() : nullptr) {}

std::string Http2CompatStream::remoteAddress() const {
  Http2Session* s = stream_->session();
  return s && s->socket() ? s->socket()->remoteAddress() : "";
}

uint16_t Http2CompatStream::remotePort() const {
  Http2Session* s = stream_->session();
  return s && s->socket() ? s->socket()->remotePort() : 0;
}

bool Http2CompatStream::encrypted() const {
  Http2Session* s = stream_->session();
  return s && s->encrypted();
}

const Socket* Http2CompatStream::socket() const {
  Http2Session* s = stream_->session();
  return s ? s->socket() : nullptr;
}

std::string Http2CompatStream::alpnProtocol() const {
  Http2Session* s = stream_->session();
  return s ? s->alpnProtocol() : "";
}

}  // namespace h2rpc::transport
