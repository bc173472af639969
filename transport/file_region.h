// transport/file_region.h — a byte range of an open file that a Socket sends to its peer
// (Socket::sendFile): respondWithFile()'s DATA payloads on a socket that can send them without
// a copy through user space (sendfile(2), uv_socket.h).
//
// OpenFile owns one descriptor, closed when the last region and its sender let go of it: a
// region may still be queued in a socket after its stream was reset (its DATA frame header is
// already committed to the connection), so the descriptor must outlive the stream.
//
// Threading: loop thread only. Lifetime: shared (std::shared_ptr) by the sender and the regions.
#ifndef H2RPC_TRANSPORT_FILE_REGION_H_
#define H2RPC_TRANSPORT_FILE_REGION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"

namespace h2rpc::transport {

class OpenFile {
 public:
  // Takes ownership of `fd` (closed by the destructor).
  explicit OpenFile(int fd) : fd_(fd) {}
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;

  int fd() const { return fd_; }
  // A socket reports each region it is done with: `sent` bytes of it left from the file, and
  // an error if the file could not give all of them (a read error, or the file shrank). Those
  // were sent as zeros, since the frame around them was already committed: the stream must be
  // reset, and must not be ended cleanly. May run inside Socket::sendFile(): the hook must not
  // call back into the socket (respond_file.cc's posts to the loop).
  void setReport(std::function<void(size_t sent, absl::Status error)> hook) {
    report_ = std::move(hook);
  }
  void report(size_t sent, absl::Status error) {
    if (report_) report_(sent, std::move(error));
  }

 private:
  int fd_;
  std::function<void(size_t, absl::Status)> report_;
};

struct FileRegion {
  std::shared_ptr<OpenFile> file;
  int64_t offset = 0;
  size_t length = 0;
};

// Reads `region` with pread(2) into `out` (appended), exactly region.length bytes: what the
// file could not give (it ended early, or a read failed) is zeros, and the error says why.
// The copying fallback of sockets that cannot sendfile, and of UvSocket after sendfile failed.
absl::Status readRegion(const FileRegion& region, std::string* out);

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_FILE_REGION_H_
