// A raw HTTP/2 client over a blocking socket, for tools and tests that want a server to hold
// connections without an HTTP/2 library on their side (bench/idle_conns, the idle-connection
// memory test): the client preface, frames on stream 0, and the handshake that shows the server
// has processed everything. Nothing here allocates (the frames are constants, payloads are read
// into a stack buffer), so a thread running it does not move a heap measurement.
#ifndef H2RPC_TESTS_TESTING_RAW_H2_H_
#define H2RPC_TESTS_TESTING_RAW_H2_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace h2rpc::raw_h2 {

inline constexpr uint8_t kSettings = 0x4, kPing = 0x6, kGoaway = 0x7;
inline constexpr uint8_t kAck = 0x1;

// Writes all of `bytes` to a blocking fd; false on an error or a closed socket.
bool WriteAll(int fd, std::string_view bytes);
// Reads exactly `len` bytes; false on an error or end of stream first.
bool ReadAll(int fd, char* buf, size_t len);

// Reads frames until one of `type` with (or without) the ACK flag; acknowledges the server's
// SETTINGS on the way. False on GOAWAY, an error or end of stream.
bool ReadUntil(int fd, uint8_t type, bool ack);

// Cleartext prior-knowledge handshake on a connected fd: the client preface with an empty
// SETTINGS, the server's SETTINGS acknowledged, then a PING whose ACK shows the server has
// processed all of it. The connection is then idle.
bool Handshake(int fd);

}  // namespace h2rpc::raw_h2

#endif  // H2RPC_TESTS_TESTING_RAW_H2_H_
