// transport/memory_quota.h — MemoryQuota: a memory budget shared by the sessions of a server
// (gRPC C++'s ResourceQuota, for what peers make us hold). Not in Node, which bounds each session
// (maxSessionMemory) but not their sum.
//
// Each session reports what it holds (Http2Session::memoryInUse(): nghttp2's memory, the socket's
// write queue, its streams' unread and unsent bytes and what the application holds for them, see
// Http2Stream::setRetainedBytes). While the sum is over the limit, the session that holds the most
// is asked to give memory back: it resets its largest stream with ENHANCE_YOUR_CALM, and new
// streams are refused (REFUSED_STREAM) when nothing can be reclaimed. So a few hostile
// connections lose their streams first, and the others are still served.
//
// Threading: one loop thread; every session that uses a quota runs on that loop (an Http2Server
// makes one quota per server, and a server belongs to one loop). Lifetime: shared_ptr, held by
// the server's options and by each session; a session leaves the quota when it is destroyed.
#ifndef H2RPC_TRANSPORT_MEMORY_QUOTA_H_
#define H2RPC_TRANSPORT_MEMORY_QUOTA_H_

#include <cstddef>
#include <unordered_map>

namespace h2rpc::transport {

class Http2Session;

class MemoryQuota {
 public:
  // `limit` in bytes; 0 = unlimited (the quota only counts).
  explicit MemoryQuota(size_t limit) : limit_(limit) {}
  MemoryQuota(const MemoryQuota&) = delete;
  MemoryQuota& operator=(const MemoryQuota&) = delete;

  size_t limit() const { return limit_; }
  // The sum of what the sessions reported last.
  size_t used() const { return used_; }
  bool over() const { return limit_ != 0 && used_ > limit_; }
  size_t sessionCount() const { return shares_.size(); }

  // What `session` holds now (replaces its previous report).
  void report(Http2Session* session, size_t bytes);
  // `session` is gone: what it reported no longer counts.
  void leave(Http2Session* session);
  // Re-reads what each session holds now, less what is flowing out to its peer (reports go
  // stale as sessions drain). A walk over the sessions and their streams: done only when over.
  void refresh();
  // The session that reported the most, or nullptr if none reported anything.
  Http2Session* largest() const;

 private:
  size_t limit_;
  size_t used_ = 0;
  std::unordered_map<Http2Session*, size_t> shares_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_MEMORY_QUOTA_H_
