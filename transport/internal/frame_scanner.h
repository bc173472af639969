// transport/internal/frame_scanner.h — finds where each DATA and HEADERS frame header ends in
// the bytes an HTTP/2 session receives, so that the session can look at such a frame before
// nghttp2 reads it. nghttp2 silently skips a DATA frame on a stream it has forgotten (it keeps no
// closed streams, see Http2Session::init()) without calling back, yet RFC 9113 §5.1 wants some of
// those answered (ClosedStreams says which): the session feeds nghttp2 up to the last byte of the
// frame's header, looks at the frame, then feeds the rest.
//
// It only follows frame lengths (the 24-bit length of each 9-byte header); nghttp2 validates
// everything. After a malformed frame nghttp2 ends the connection, so going out of step then
// does not matter.
//
// Threading: the session's loop thread. Lifetime: a value, owned by the session.
#ifndef H2RPC_TRANSPORT_INTERNAL_FRAME_SCANNER_H_
#define H2RPC_TRANSPORT_INTERNAL_FRAME_SCANNER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace h2rpc::transport::internal {

class FrameScanner {
 public:
  struct Frame {
    uint8_t type = 0;
    uint8_t flags = 0;
    int32_t stream_id = 0;
    uint32_t length = 0;
  };

  // `preface` bytes come before the first frame: the 24-byte client magic on a server, 0 on a
  // client.
  explicit FrameScanner(size_t preface) : skip_(preface) {}

  // Reads `data` up to, not including, the last byte of the next DATA or HEADERS frame header,
  // sets *frame and *found, and returns how many bytes it read; the next call starts with that
  // byte. Without such a header in `data`, reads all of it (*found false).
  size_t scan(std::string_view data, Frame* frame, bool* found);

 private:
  uint64_t skip_;           // bytes left of the preface or of the current frame's payload
  uint8_t head_[9] = {};    // the frame header being read
  size_t have_ = 0;         // bytes of it read
  bool reported_ = false;   // its last byte is next, and the frame was reported
};

}  // namespace h2rpc::transport::internal

#endif  // H2RPC_TRANSPORT_INTERNAL_FRAME_SCANNER_H_
