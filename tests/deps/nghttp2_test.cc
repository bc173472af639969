// nghttp2 links and packs frames: a client session's first bytes are the connection preface
// followed by the SETTINGS frame we submitted, byte for byte.
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace {

TEST(Nghttp2Test, ClientSessionPacksPrefaceAndSettings) {
  nghttp2_session_callbacks* callbacks = nullptr;
  ASSERT_EQ(nghttp2_session_callbacks_new(&callbacks), 0);
  nghttp2_session* session = nullptr;
  ASSERT_EQ(nghttp2_session_client_new(&session, callbacks, nullptr), 0);
  nghttp2_session_callbacks_del(callbacks);

  nghttp2_settings_entry entries[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                                      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 65535}};
  ASSERT_EQ(nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, entries, 2), 0);

  std::string out;
  for (;;) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session, &data);
    ASSERT_GE(n, 0);
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), n);
  }
  nghttp2_session_del(session);

  const std::string preface = NGHTTP2_CLIENT_MAGIC;
  ASSERT_EQ(out.substr(0, preface.size()), preface);
  const std::string frame = out.substr(preface.size());
  // 9-byte header: length 12 (two 6-byte entries), type SETTINGS (4), flags 0, stream 0.
  const std::string expected_header("\x00\x00\x0c\x04\x00\x00\x00\x00\x00", 9);
  ASSERT_EQ(frame.substr(0, 9), expected_header);
  const std::string expected_payload("\x00\x03\x00\x00\x00\x64\x00\x04\x00\x00\xff\xff", 12);
  EXPECT_EQ(frame.substr(9), expected_payload);
}

TEST(Nghttp2Test, PackSettingsPayloadRejectsTooSmallBuffer) {
  nghttp2_settings_entry entry = {NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
  uint8_t buf[3];
  EXPECT_EQ(nghttp2_pack_settings_payload(buf, sizeof(buf), &entry, 1), NGHTTP2_ERR_INSUFF_BUFSIZE);
}

}  // namespace
