// ServerHttp2Stream::respondWithFile() / respondWithFD(): a response whose body is read from a
// file as the stream drains.
//
// Reading: bounded pread() chunks (kChunk) on the loop thread, one chunk per 'drain'. The core is
// sans-I/O (EventLoop has no thread pool: ManualLoop tests drive everything by hand), and a 64
// KiB read from the page cache costs microseconds; a cold disk can block the loop for a disk
// seek per chunk (libuv's fs thread pool would avoid that, at the price of a second thread and
// a loop-specific path). Memory: the stream's high-water mark (16 KiB) is below one chunk, so
// write() reports backpressure after each chunk and the next is read only on 'drain', which
// comes when nghttp2 has framed the previous one, i.e. when the peer's window allowed it.
// The chunk goes to the socket without a copy (write(SharedBuffer) frames with
// NGHTTP2_DATA_FLAG_NO_COPY); sendfile() is not used: Socket::writev takes memory buffers, and
// TLS must encrypt in user space anyway.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "transport/buffer.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/stream.h"

namespace h2rpc::transport {

namespace {

constexpr size_t kChunk = 64 * 1024;

// Node's SystemError from fs: code ENOENT, message "ENOENT: no such file or directory, open 'p'".
absl::Status fsError(int err, const std::string& syscall, const std::string& path) {
  const char* name = strerrorname_np(err);
  std::string code = name != nullptr ? name : "E" + std::to_string(err);
  std::string message = code + ": " + strerror(err) + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  absl::StatusCode sc = err == ENOENT ? absl::StatusCode::kNotFound
                        : err == EACCES || err == EPERM ? absl::StatusCode::kPermissionDenied
                                                        : absl::StatusCode::kInternal;
  return nodeError(sc, code, message.substr(code.size() + 2));
}

}  // namespace

// Sends one file on one stream. Kept alive by the stream's 'drain' and 'close' listeners (which
// the stream drops after 'close'), and by the posted start.
class FileSender : public std::enable_shared_from_this<FileSender> {
 public:
  FileSender(std::shared_ptr<ServerHttp2Stream> stream, int fd, bool owns_fd, std::string path,
             Headers headers, RespondWithFileOptions options)
      : stream_(std::move(stream)),
        fd_(fd),
        owns_fd_(owns_fd),
        path_(std::move(path)),
        headers_(std::move(headers)),
        options_(std::move(options)) {}
  ~FileSender() { closeFd(); }

  // Opens (respondWithFile), stats, asks statCheck, responds, then sends the first chunk.
  void start() {
    ServerHttp2Stream& s = *stream_;
    if (s.destroyed()) return;
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return fail(fsError(errno, "open", path_));
    }
    struct stat st;
    if (::fstat(fd_, &st) != 0) return fail(fsError(errno, "fstat", ""));
    if (S_ISDIR(st.st_mode)) {
      return fail(nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_SEND_FILE",
                            "Directories cannot be sent"));
    }
    regular_ = S_ISREG(st.st_mode);
    FileRange range{options_.offset, options_.length};
    if (!regular_ && (range.offset != 0 || range.length != -1)) {
      return fail(nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_SEND_FILE_NOSEEK",
                            "Offset or length can only be specified for regular files"));
    }
    // The application's own respond() from statCheck (a 304) must go through.
    s.file_response_ = false;
    if (options_.statCheck && !options_.statCheck(st, headers_, range)) {
      closeFd();
      return;
    }
    if (s.destroyed() || s.headersSent()) {  // statCheck answered itself, or reset the stream
      closeFd();
      return;
    }
    s.file_response_ = true;
    if (range.offset < 0) range.offset = 0;
    if (regular_) {
      const int64_t available = std::max<int64_t>(0, st.st_size - range.offset);
      range.length = range.length < 0 ? available : std::min(range.length, available);
      headers_.set(constants::HTTP2_HEADER_CONTENT_LENGTH, std::to_string(range.length));
    }
    offset_ = range.offset;
    remaining_ = range.length;  // -1 on a pipe: until EOF
    if (absl::Status r = s.respond(headers_, {.waitForTrailers = options_.waitForTrailers});
        !r.ok()) {
      s.file_response_ = false;
      return fail(r);
    }
    if (s.writable_finished_) {  // HEAD request: the HEADERS carried END_STREAM
      closeFd();
      return;
    }
    auto self = shared_from_this();
    s.onDrain([self] { self->pump(); });
    s.onClose([self] { self->closeFd(); });
    pump();
  }

 private:
  // Reads and writes chunks until write() reports backpressure ('drain' calls again) or the
  // range is sent (then end()).
  void pump() {
    ServerHttp2Stream& s = *stream_;
    while (!s.destroyed() && fd_ >= 0) {
      size_t want = kChunk;
      if (remaining_ >= 0) want = static_cast<size_t>(std::min<int64_t>(remaining_, kChunk));
      ssize_t n = 0;
      SharedBuffer chunk;
      if (want > 0) {
        chunk = SharedBuffer::ForOverwrite(want);
        do {
          n = regular_ ? ::pread(fd_, chunk.mutable_data(), want, offset_)
                       : ::read(fd_, chunk.mutable_data(), want);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
          absl::Status err = fsError(errno, "read", "");
          closeFd();
          s.destroy(err);  // RST_STREAM INTERNAL_ERROR, as Node
          return;
        }
        if (n == 0 && remaining_ > 0) {
          // The file shrank under us: the content-length we sent cannot be met.
          closeFd();
          s.destroy(nodeError(absl::StatusCode::kDataLoss, "ERR_HTTP2_SEND_FILE",
                              "The file ended before the announced length"));
          return;
        }
      }
      if (n == 0) {  // the range is sent, or EOF of a pipe
        closeFd();
        s.writing_file_ = true;
        s.end();
        s.writing_file_ = false;
        return;
      }
      offset_ += n;
      if (remaining_ >= 0) remaining_ -= n;
      s.writing_file_ = true;
      const bool more = s.write(chunk.slice(0, static_cast<size_t>(n)));
      s.writing_file_ = false;
      if (!more) return;  // wait for 'drain'
    }
  }

  void fail(absl::Status error) {
    closeFd();
    ServerHttp2Stream& s = *stream_;
    s.file_response_ = false;
    if (options_.onError) {
      options_.onError(error);
    } else if (!s.destroyed()) {
      s.destroy(std::move(error));
    }
  }

  void closeFd() {
    if (fd_ >= 0 && owns_fd_) ::close(fd_);
    fd_ = -1;
  }

  std::shared_ptr<ServerHttp2Stream> stream_;
  int fd_;
  bool owns_fd_;
  bool regular_ = false;
  std::string path_;
  Headers headers_;
  RespondWithFileOptions options_;
  int64_t offset_ = 0;
  int64_t remaining_ = -1;
};

absl::Status ServerHttp2Stream::respondWithFile(std::string path, const Headers& headers,
                                                RespondWithFileOptions options) {
  return startFileResponse(-1, true, std::move(path), headers, std::move(options));
}

absl::Status ServerHttp2Stream::respondWithFD(int fd, const Headers& headers,
                                              RespondWithFileOptions options) {
  if (fd < 0) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_ARG_TYPE",
                     "The \"fd\" argument must be a valid file descriptor");
  }
  return startFileResponse(fd, false, {}, headers, std::move(options));
}

absl::Status ServerHttp2Stream::startFileResponse(int fd, bool owns_fd, std::string path,
                                                  const Headers& headers,
                                                  RespondWithFileOptions options) {
  if (destroyed_ || closed_) return invalidStream();
  if (headers_sent_ || file_response_) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_HEADERS_SENT",
                     "Response has already been initiated.");
  }
  if (options.offset < 0) {
    return nodeError(absl::StatusCode::kOutOfRange, "ERR_OUT_OF_RANGE",
                     "The value of \"options.offset\" is out of range. It must be >= 0.");
  }
  const std::optional<std::string> status = headers.get(constants::HTTP2_HEADER_STATUS);
  if (status == "204" || status == "205" || status == "304") {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_PAYLOAD_FORBIDDEN",
                     "Responses with " + *status + " status must not have a payload");
  }
  file_response_ = true;
  auto self = std::static_pointer_cast<ServerHttp2Stream>(shared_from_this());
  auto sender = std::make_shared<FileSender>(self, fd, owns_fd, std::move(path), headers,
                                             std::move(options));
  // Node opens and stats from the loop: statCheck and onError never run inside this call.
  post([sender] { sender->start(); });
  return absl::OkStatus();
}

}  // namespace h2rpc::transport
