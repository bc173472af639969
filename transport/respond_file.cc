// ServerHttp2Stream::respondWithFile() / respondWithFD(): a response whose body is read from a
// file as the stream drains.
//
// Zero-copy (a socket that canSendFile(): plain TCP or a Unix socket, uv_socket.h): the body
// goes to the stream as file regions (Http2Stream::writeFile), 64 KiB per 'drain'; nghttp2
// frames them (flow control, frame size) with NGHTTP2_DATA_FLAG_NO_COPY, and the session hands
// the socket each frame's 9-byte header, then the region, which the socket sends with
// sendfile(2): file pages go from the page cache to the socket, never through user space. The
// file is checked (fstat) before each region, so a file that shrank is caught before a frame
// commits to bytes it no longer has; one that shrinks (or fails to read) after that makes the
// socket send zeros in the frame's place and report the error: the stream is then reset
// (RST_STREAM INTERNAL_ERROR, as a read error is today), and END_STREAM is held back until
// the socket has reported every region sent, so a response is never ended cleanly on bytes the
// file did not give. The cost: the END_STREAM goes on its own empty DATA frame, a loop turn
// after the last region.
//
// Otherwise (TLS, which must encrypt in user space; pipes): bounded pread() chunks (kChunk) on
// the loop thread, one chunk per 'drain'. The core is sans-I/O (EventLoop has no thread pool:
// ManualLoop tests drive everything by hand), and a 64 KiB read from the page cache costs
// microseconds; a cold disk can block the loop for a disk seek per chunk (libuv's fs thread
// pool would avoid that, at the price of a second thread and a loop-specific path); sendfile
// blocks the same way on a cold page. Memory: the stream's high-water mark (16 KiB) is below one
// chunk, so write() reports backpressure after each chunk and the next is read only on
// 'drain', which comes when nghttp2 has framed the previous one, i.e. when the peer's window
// allowed it. The chunk goes to the socket without a further copy (write(SharedBuffer) frames
// with NGHTTP2_DATA_FLAG_NO_COPY).
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
#include "transport/file_region.h"
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
    if (regular_ && s.canSendFile()) startZeroCopy();
    s.onDrain([self] { self->pump(); });
    s.onClose([self] {
      self->closeFd();
      self->file_.reset();  // regions still queued in the socket keep the file open
    });
    pump();
  }

 private:
  // Reads and writes chunks until write() reports backpressure ('drain' calls again) or the
  // range is sent (then end()).
  void pump() {
    if (zero_copy_) return pumpRegions();
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

  // The file becomes an OpenFile shared with the socket's queued regions (they may outlive the
  // stream): respondWithFile's own descriptor, or a duplicate of respondWithFD's (the
  // application may close its own once the stream is closed). No duplicate: the copying path.
  void startZeroCopy() {
    int fd = fd_;
    if (!owns_fd_) fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return;
    file_ = std::make_shared<OpenFile>(fd);
    zero_copy_ = true;
    // file_ owns respondWithFile's descriptor now; respondWithFD's is the application's, and
    // the duplicate is read instead.
    fd_ = -1;
    std::weak_ptr<FileSender> weak = shared_from_this();
    EventLoop* loop = stream_->loop();
    file_->setReport([weak, loop](size_t sent, absl::Status error) {
      // Never inside the socket's call: from the loop.
      loop->post([weak, sent, error = std::move(error)]() mutable {
        if (auto self = weak.lock()) self->onRegionSent(sent, std::move(error));
      });
    });
  }

  // Writes file regions until write() reports backpressure ('drain' calls again) or the range
  // is written; ends the stream once the socket has sent all of it (see the top).
  void pumpRegions() {
    ServerHttp2Stream& s = *stream_;
    while (!s.destroyed() && file_ && remaining_ > 0) {
      const size_t n = static_cast<size_t>(std::min<int64_t>(remaining_, kChunk));
      struct stat st;
      if (::fstat(file_->fd(), &st) != 0) return failMidFile(fsError(errno, "fstat", ""));
      if (st.st_size < offset_ + static_cast<int64_t>(n)) {
        return failMidFile(nodeError(absl::StatusCode::kDataLoss, "ERR_HTTP2_SEND_FILE",
                                     "The file ended before the announced length"));
      }
      FileRegion region{file_, offset_, n};
      offset_ += static_cast<int64_t>(n);
      remaining_ -= static_cast<int64_t>(n);
      written_ += n;
      s.writing_file_ = true;
      const bool more = s.writeFile(std::move(region));
      s.writing_file_ = false;
      if (!more) return;  // wait for 'drain'
    }
    maybeEndZeroCopy();
  }

  void onRegionSent(size_t sent, absl::Status error) {
    if (error.code() == absl::StatusCode::kDataLoss) {
      return failMidFile(
          nodeError(error.code(), "ERR_HTTP2_SEND_FILE", std::string(error.message())));
    }
    if (!error.ok()) {  // readRegion's "EIO: Input/output error, read"
      const std::string message(error.message());
      const size_t colon = message.find(": ");
      if (colon == std::string::npos) return failMidFile(std::move(error));
      return failMidFile(
          nodeError(error.code(), message.substr(0, colon), message.substr(colon + 2)));
    }
    confirmed_ += sent;
    maybeEndZeroCopy();
  }

  void maybeEndZeroCopy() {
    ServerHttp2Stream& s = *stream_;
    if (ended_ || remaining_ != 0 || confirmed_ < written_ || s.destroyed()) return;
    ended_ = true;
    file_.reset();
    s.writing_file_ = true;
    s.end();
    s.writing_file_ = false;
  }

  void failMidFile(absl::Status error) {
    file_.reset();
    ended_ = true;
    ServerHttp2Stream& s = *stream_;
    if (!s.destroyed()) s.destroy(std::move(error));  // RST_STREAM INTERNAL_ERROR, as Node
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
  // Zero-copy: the file the regions read, the bytes written as regions and those the socket
  // reported sent.
  bool zero_copy_ = false;
  std::shared_ptr<OpenFile> file_;
  size_t written_ = 0;
  size_t confirmed_ = 0;
  bool ended_ = false;
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
