// A raw HTTP/2 client, for tools and tests that want a server to hold connections without an
// HTTP/2 library on their side (bench/idle_conns, tests/hardening/idle_connection_memory_test):
// frame builders for what such a client sends (the preface and SETTINGS, a gRPC call's HEADERS,
// an empty message, PING), and blocking reads and writes over a socket, with TLS on it or not.
// The builders allocate (make the frames first); WriteAll, ReadAll, ReadUntil and Connect do not,
// so a thread running them does not move a heap measurement.
#ifndef H2RPC_TESTS_TESTING_RAW_H2_H_
#define H2RPC_TESTS_TESTING_RAW_H2_H_

#include <netinet/in.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace h2rpc::raw_h2 {

// Frame types and flags (RFC 9113 §6).
inline constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kSettings = 0x4,
                         kPing = 0x6, kGoaway = 0x7;
inline constexpr uint8_t kAck = 0x1, kEndStream = 0x1, kEndHeaders = 0x4;

// A frame: the 9-byte header, then `payload`.
std::string Frame(uint8_t type, uint8_t flags, std::string_view payload, uint32_t stream = 0);

// The client preface and the client's SETTINGS: empty, or with SETTINGS_MAX_FRAME_SIZE when
// `max_frame_size` is not 0 (h2rpc's and gRPC C++'s clients allow 1 MiB).
std::string Hello(uint32_t max_frame_size = 0);

// A request's HEADERS frame for a gRPC call to `path` on `stream` (":authority" localhost,
// scheme http): every field a literal without indexing, new name (RFC 7541 §6.2.2), every
// length below 127.
std::string CallHeaders(uint32_t stream, std::string_view path);

// A DATA frame on `stream` carrying one empty gRPC message (its 5-byte prefix).
std::string EmptyMessage(uint32_t stream, bool end_stream);

// A DATA frame on `stream` ending it, carrying a SimpleRequest (grpc.testing) asking for
// `response_size` bytes (field 2, a varint).
std::string SizedRequest(uint32_t stream, uint32_t response_size);

// A PING frame (8 bytes of 'p').
std::string Ping();

// A connection: a blocking socket, with TLS on it (ssl) or not.
struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
};

// A blocking TCP socket connected to `addr`, TCP_NODELAY; -1 on failure (nothing left open).
int Connect(const sockaddr_in& addr);

// Writes all of `bytes`; false on an error or a closed connection.
bool WriteAll(const Conn& c, std::string_view bytes);
// Reads exactly `len` bytes; false on an error or end of stream first.
bool ReadAll(const Conn& c, char* buf, size_t len);

// Reads frames until one of `type` on `stream` whose `flag` is set (`set` true) or clear (any
// flags if `flag` is 0); payloads are read and dropped. Acknowledges the server's SETTINGS on
// the way. False on GOAWAY, RST_STREAM, an error or end of stream.
bool ReadUntil(const Conn& c, uint8_t type, uint8_t flag, bool set, uint32_t stream);
// The same for a frame on stream 0 with (or without) ACK: SETTINGS, PING.
inline bool ReadUntil(const Conn& c, uint8_t type, bool ack) {
  return ReadUntil(c, type, kAck, ack, 0);
}

}  // namespace h2rpc::raw_h2

#endif  // H2RPC_TESTS_TESTING_RAW_H2_H_
