// OpenSSL links and works: a TLS server context offering ALPN "h2" is created, and a client and a
// server complete a TLS handshake over memory BIOs with a throw-away self-signed certificate and
// agree on "h2" — the exact setup the transport uses.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace {

constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};

int SelectH2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
             unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAlpnH2, sizeof(kAlpnH2), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// Moves whatever `from` wrote into its network BIO over to `to`'s network BIO.
void Pump(BIO* from_net, BIO* to_net) {
  char buf[16384];
  int n;
  while ((n = BIO_read(from_net, buf, sizeof(buf))) > 0) ASSERT_EQ(BIO_write(to_net, buf, n), n);
}

TEST(OpenSslTest, HandshakeNegotiatesH2OverMemoryBios) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, X509_get_subject_name(cert));
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);

  SSL_CTX* server_ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_NE(server_ctx, nullptr);
  ASSERT_EQ(SSL_CTX_use_certificate(server_ctx, cert), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(server_ctx, key), 1);
  SSL_CTX_set_alpn_select_cb(server_ctx, SelectH2, nullptr);

  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  ASSERT_NE(client_ctx, nullptr);
  ASSERT_EQ(SSL_CTX_set_alpn_protos(client_ctx, kAlpnH2, sizeof(kAlpnH2)), 0);  // 0 = success

  SSL* server = SSL_new(server_ctx);
  SSL* client = SSL_new(client_ctx);
  BIO *server_io, *server_net, *client_io, *client_net;
  ASSERT_EQ(BIO_new_bio_pair(&server_io, 0, &server_net, 0), 1);
  ASSERT_EQ(BIO_new_bio_pair(&client_io, 0, &client_net, 0), 1);
  SSL_set_bio(server, server_io, server_io);
  SSL_set_bio(client, client_io, client_io);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);

  bool client_done = false, server_done = false;
  for (int round = 0; round < 20 && !(client_done && server_done); ++round) {
    if (!client_done) client_done = SSL_do_handshake(client) == 1;
    Pump(client_net, server_net);
    if (!server_done) server_done = SSL_do_handshake(server) == 1;
    Pump(server_net, client_net);
  }
  ASSERT_TRUE(client_done && server_done);

  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(client, &proto, &len);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(proto), len), "h2");
  EXPECT_GE(SSL_version(client), TLS1_2_VERSION);

  // Application data goes through too.
  ASSERT_EQ(SSL_write(client, "ping", 4), 4);
  Pump(client_net, server_net);
  char buf[8] = {};
  ASSERT_EQ(SSL_read(server, buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");

  SSL_free(server);
  SSL_free(client);
  BIO_free(server_net);
  BIO_free(client_net);
  SSL_CTX_free(server_ctx);
  SSL_CTX_free(client_ctx);
  X509_free(cert);
  EVP_PKEY_free(key);
}

}  // namespace
