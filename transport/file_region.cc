#include "transport/file_region.h"

#include <errno.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace h2rpc::transport {

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status readRegion(const FileRegion& region, std::string* out) {
  const size_t start = out->size();
  out->resize(start + region.length);  // zeros where the file falls short
  size_t got = 0;
  while (got < region.length) {
    ssize_t n = ::pread(region.file->fd(), out->data() + start + got, region.length - got,
                        static_cast<off_t>(region.offset + static_cast<int64_t>(got)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const char* name = strerrorname_np(errno);
      return absl::InternalError(std::string(name != nullptr ? name : "EIO") + ": " +
                                 strerror(errno) + ", read");
    }
    if (n == 0) return absl::DataLossError("The file ended before the announced length");
    got += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace h2rpc::transport
