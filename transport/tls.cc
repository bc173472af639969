// transport/tls.cc — see tls.h.
//
// Each TlsEngine owns an SSL whose BIO (TlsEngineBio) has no buffer of its own: OpenSSL reads the
// ciphertext being fed straight from the caller's bytes (in_) and writes its output straight into
// output_ (a std::string handed to the caller by move). Input is offered kInputSlice bytes at a
// time and processed before the next piece; what OpenSSL leaves unread (a handshake waiting for the
// SNICallback's answer) is copied into unread_, at most kMaxUnread bytes. So the engine's memory
// stays bounded whatever the traffic; only pending_plaintext_ (data written before the handshake is
// done) and output_ (ciphertext the caller has not taken) grow with what the caller does. A BIO
// pair held two 32 KiB ring buffers per connection instead, and copied every byte once more
// (bench/PROFILE.md, "RSS per connection, stop 28").
#include "transport/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace h2rpc::transport {
namespace {

// Ciphertext offered to OpenSSL per process(), and the most it may leave unread between two feeds.
constexpr size_t kInputSlice = 32 * 1024;
constexpr size_t kMaxUnread = 32 * 1024;
constexpr char kSessionIdContext[] = "h2rpc";

// Empties OpenSSL's error queue of this thread into "error:...:reason[:data]; ...". `first` gets
// the first packed error code (0 if none).
std::string takeOpenSslErrors(unsigned long* first = nullptr) {
  std::vector<std::string> parts;
  if (first != nullptr) *first = 0;
  const char* data = nullptr;
  int flags = 0;
  unsigned long code;
  while ((code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    if (first != nullptr && *first == 0) *first = code;
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    std::string part = buf;
    if ((flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0') {
      absl::StrAppend(&part, " (", data, ")");
    }
    parts.push_back(std::move(part));
  }
  return absl::StrJoin(parts, "; ");
}

std::string withOpenSslErrors(std::string message) {
  std::string errors = takeOpenSslErrors();
  if (!errors.empty()) absl::StrAppend(&message, " [", errors, "]");
  return message;
}

// One PEM input: its contents and how to name it in an error message.
struct PemSource {
  std::string label;  // e.g. "TlsOptions.cert" or "TlsOptions.certFile '/path'"
  std::string pem;
  bool present = false;
};

absl::StatusOr<PemSource> loadPem(const std::string& contents, const std::string& path,
                                  const char* contents_option, const char* file_option) {
  PemSource source;
  if (!contents.empty()) {
    source.label = contents_option;
    source.pem = contents;
    source.present = true;
    return source;
  }
  if (path.empty()) return source;
  source.label = absl::StrCat(file_option, " '", path, "'");
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    int err = errno;
    auto message = absl::StrCat(source.label, ": cannot open the file: ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(message) : absl::InvalidArgumentError(message);
  }
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), file)) > 0) source.pem.append(buf, n);
  bool failed = std::ferror(file) != 0;
  int err = errno;
  std::fclose(file);
  if (failed) {
    return absl::InvalidArgumentError(
        absl::StrCat(source.label, ": cannot read the file: ", std::strerror(err)));
  }
  source.present = true;
  return source;
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

BioPtr memBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// True if the error queue's last entry is the PEM "no start line" that ends every PEM loop.
bool onlyEndOfPem() {
  unsigned long code = ERR_peek_last_error();
  return code == 0 ||
         (ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE);
}

// All certificates of a PEM text (at least one).
absl::StatusOr<std::vector<X509Ptr>> parseCertificates(const PemSource& source, bool first_aux) {
  std::vector<X509Ptr> certs;
  if (source.pem.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(source.label, ": too large"));
  }
  ERR_clear_error();
  BioPtr bio = memBio(source.pem);
  if (!bio) return absl::ResourceExhaustedError(withOpenSslErrors("BIO_new_mem_buf failed"));
  for (;;) {
    X509* cert = certs.empty() && first_aux
                     ? PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr)
                     : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    certs.emplace_back(cert);
  }
  if (certs.empty()) {
    return absl::InvalidArgumentError(withOpenSslErrors(absl::StrCat(
        source.label,
        ": no valid PEM certificate found (expected \"-----BEGIN CERTIFICATE-----\")")));
  }
  if (!onlyEndOfPem()) {
    return absl::InvalidArgumentError(withOpenSslErrors(absl::StrCat(
        source.label, ": malformed PEM certificate after the first ", certs.size())));
  }
  ERR_clear_error();
  return certs;
}

int passphraseCallback(char* buf, int size, int, void* userdata) {
  const auto* passphrase = static_cast<const std::string*>(userdata);
  if (passphrase == nullptr || passphrase->empty()) return -1;  // never prompt on a terminal
  int n = static_cast<int>(std::min<size_t>(passphrase->size(), static_cast<size_t>(size)));
  std::memcpy(buf, passphrase->data(), static_cast<size_t>(n));
  return n;
}

absl::StatusOr<PkeyPtr> parsePrivateKey(const PemSource& source, const std::string& passphrase) {
  if (source.pem.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(source.label, ": too large"));
  }
  ERR_clear_error();
  BioPtr bio = memBio(source.pem);
  if (!bio) return absl::ResourceExhaustedError(withOpenSslErrors("BIO_new_mem_buf failed"));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, passphraseCallback,
                                          const_cast<std::string*>(&passphrase));
  if (key == nullptr) {
    return absl::InvalidArgumentError(withOpenSslErrors(absl::StrCat(
        source.label,
        ": no valid PEM private key found (expected \"-----BEGIN PRIVATE KEY-----\" or a "
        "traditional EC/RSA key; an encrypted key needs TlsOptions.passphrase)")));
  }
  ERR_clear_error();
  return PkeyPtr(key);
}

absl::StatusOr<int> parseVersion(const std::string& version, const char* option) {
  if (version == "TLSv1.2") return TLS1_2_VERSION;
  if (version == "TLSv1.3") return TLS1_3_VERSION;
  return absl::InvalidArgumentError(absl::StrCat(
      option, ": \"", version,
      "\" is not supported; use \"TLSv1.2\" or \"TLSv1.3\" (HTTP/2 requires TLS 1.2 or later)"));
}

int acceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

// Node 20's tls.DEFAULT_CIPHERS (crypto.constants.defaultCoreCipherList), used when `ciphers` is
// empty: its TLS 1.2 order differs from OpenSSL's (AES-128 before AES-256), which decides the
// cipher a server picks for the same client (checked against Node 20 with openssl s_client).
constexpr char kNodeDefaultCiphers[] =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:"
    "DHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:DHE-RSA-AES256-SHA384:"
    "ECDHE-RSA-AES256-SHA256:DHE-RSA-AES256-SHA256:HIGH:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:"
    "!PSK:!SRP:!CAMELLIA";

// Node's `ciphers`: one list; the TLS 1.3 suites ("TLS_...") are set apart, as Node does.
absl::Status applyCiphers(SSL_CTX* ctx, const std::string& option) {
  const std::string& ciphers = option.empty() ? std::string(kNodeDefaultCiphers) : option;
  std::vector<std::string> tls12, tls13;
  for (absl::string_view part : absl::StrSplit(ciphers, ':', absl::SkipEmpty())) {
    (absl::StartsWith(part, "TLS_") ? tls13 : tls12).emplace_back(part);
  }
  const std::string list12 = absl::StrJoin(tls12, ":");
  const std::string list13 = absl::StrJoin(tls13, ":");
  // A list without TLS 1.3 names leaves OpenSSL's TLS 1.3 suites; a list with only TLS 1.3 names
  // leaves no TLS 1.2 cipher and, when TLS 1.3 is allowed, raises the minimum version to it (Node
  // 20's createSecureContext; a TLS 1.2 peer then gets protocol_version, checked with Node 20).
  ERR_clear_error();
  if (list12.empty() && !list13.empty()) {
    SSL_CTX_set_cipher_list(ctx, "");  // clears the list, then reports "no cipher match"
    ERR_clear_error();
    const long max = SSL_CTX_get_max_proto_version(ctx);
    if (SSL_CTX_get_min_proto_version(ctx) < TLS1_3_VERSION &&
        (max == 0 || max > TLS1_2_VERSION)) {
      SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    }
  }
  if (!list12.empty() && SSL_CTX_set_cipher_list(ctx, list12.c_str()) != 1) {
    return absl::InvalidArgumentError(withOpenSslErrors(
        absl::StrCat("TlsOptions.ciphers: \"", ciphers, "\" selects no TLS 1.2 cipher")));
  }
  ERR_clear_error();
  if (!list13.empty() && SSL_CTX_set_ciphersuites(ctx, list13.c_str()) != 1) {
    return absl::InvalidArgumentError(withOpenSslErrors(
        absl::StrCat("TlsOptions.ciphers: \"", ciphers, "\" has an unknown TLS 1.3 suite")));
  }
  if (tls12.empty() && tls13.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TlsOptions.ciphers: \"", ciphers, "\" selects no cipher"));
  }
  ERR_clear_error();
  return absl::OkStatus();
}

// OpenSSL's X509_V_ERR_x as Node names it (node's X509ErrorCode: the name without the prefix).
std::string verifyErrorName(long code) {
  switch (code) {
#define H2RPC_X509_ERROR(name) \
  case X509_V_ERR_##name:      \
    return #name;
    H2RPC_X509_ERROR(UNABLE_TO_GET_ISSUER_CERT)
    H2RPC_X509_ERROR(UNABLE_TO_GET_CRL)
    H2RPC_X509_ERROR(UNABLE_TO_DECRYPT_CERT_SIGNATURE)
    H2RPC_X509_ERROR(UNABLE_TO_DECRYPT_CRL_SIGNATURE)
    H2RPC_X509_ERROR(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY)
    H2RPC_X509_ERROR(CERT_SIGNATURE_FAILURE)
    H2RPC_X509_ERROR(CRL_SIGNATURE_FAILURE)
    H2RPC_X509_ERROR(CERT_NOT_YET_VALID)
    H2RPC_X509_ERROR(CERT_HAS_EXPIRED)
    H2RPC_X509_ERROR(CRL_NOT_YET_VALID)
    H2RPC_X509_ERROR(CRL_HAS_EXPIRED)
    H2RPC_X509_ERROR(ERROR_IN_CERT_NOT_BEFORE_FIELD)
    H2RPC_X509_ERROR(ERROR_IN_CERT_NOT_AFTER_FIELD)
    H2RPC_X509_ERROR(ERROR_IN_CRL_LAST_UPDATE_FIELD)
    H2RPC_X509_ERROR(ERROR_IN_CRL_NEXT_UPDATE_FIELD)
    H2RPC_X509_ERROR(OUT_OF_MEM)
    H2RPC_X509_ERROR(DEPTH_ZERO_SELF_SIGNED_CERT)
    H2RPC_X509_ERROR(SELF_SIGNED_CERT_IN_CHAIN)
    H2RPC_X509_ERROR(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)
    H2RPC_X509_ERROR(UNABLE_TO_VERIFY_LEAF_SIGNATURE)
    H2RPC_X509_ERROR(CERT_CHAIN_TOO_LONG)
    H2RPC_X509_ERROR(CERT_REVOKED)
    H2RPC_X509_ERROR(INVALID_CA)
    H2RPC_X509_ERROR(PATH_LENGTH_EXCEEDED)
    H2RPC_X509_ERROR(INVALID_PURPOSE)
    H2RPC_X509_ERROR(CERT_UNTRUSTED)
    H2RPC_X509_ERROR(CERT_REJECTED)
#undef H2RPC_X509_ERROR
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "ERR_TLS_CERT_ALTNAME_INVALID";  // Node's checkServerIdentity() code
    default:
      return absl::StrCat("X509_V_ERR_", code);
  }
}

void nameEntries(const X509_NAME* name, std::vector<std::pair<std::string, std::string>>* out) {
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    const char* key = OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry)));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
    if (n >= 0 && utf8 != nullptr) {
      out->emplace_back(key != nullptr ? key : "UNDEF", std::string(reinterpret_cast<char*>(utf8), n));
    }
    OPENSSL_free(utf8);
  }
}

std::string asn1Time(const ASN1_TIME* time) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), time) != 1) return "";
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string ipAddressText(const ASN1_OCTET_STRING* ip) {
  const unsigned char* b = ASN1_STRING_get0_data(ip);
  const int n = ASN1_STRING_length(ip);
  if (n == 4) return absl::StrCat(b[0], ".", b[1], ".", b[2], ".", b[3]);
  if (n == 16) {
    std::vector<std::string> groups;
    for (int i = 0; i < 16; i += 2) groups.push_back(absl::StrFormat("%X", (b[i] << 8) | b[i + 1]));
    return absl::StrJoin(groups, ":");
  }
  return "<invalid>";
}

// "[::1]" -> "::1".
std::string stripBrackets(std::string name) {
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  return name;
}

// An IP address as inet_ntop writes it ("0:0:0:0:0:0:0:1" -> "::1"), as Node's canonicalizeIP.
std::string canonicalIp(const std::string& address) {
  unsigned char bytes[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, address.c_str(), bytes) == 1 &&
      inet_ntop(AF_INET, bytes, text, sizeof(text)) != nullptr) {
    return text;
  }
  if (inet_pton(AF_INET6, address.c_str(), bytes) == 1 &&
      inet_ntop(AF_INET6, bytes, text, sizeof(text)) != nullptr) {
    return text;
  }
  return address;
}

bool isIpAddress(const std::string& name) {
  unsigned char addr[16];
  return inet_pton(AF_INET, name.c_str(), addr) == 1 || inet_pton(AF_INET6, name.c_str(), addr) == 1;
}

struct CrlDeleter {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
using CrlPtr = std::unique_ptr<X509_CRL, CrlDeleter>;

// All CRLs of a PEM text (at least one).
absl::StatusOr<std::vector<CrlPtr>> parseCrls(const PemSource& source) {
  std::vector<CrlPtr> crls;
  if (source.pem.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(source.label, ": too large"));
  }
  ERR_clear_error();
  BioPtr bio = memBio(source.pem);
  if (!bio) return absl::ResourceExhaustedError(withOpenSslErrors("BIO_new_mem_buf failed"));
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
    crls.emplace_back(crl);
  }
  if (crls.empty() || !onlyEndOfPem()) {
    return absl::InvalidArgumentError(withOpenSslErrors(absl::StrCat(
        source.label, ": no valid PEM CRL found (expected \"-----BEGIN X509 CRL-----\")")));
  }
  ERR_clear_error();
  return crls;
}

// A certificate, its chain and its key, from PEM or PKCS#12.
struct Identity {
  std::vector<X509Ptr> chain;  // leaf first
  PkeyPtr key;
};

absl::StatusOr<Identity> parsePfx(const PemSource& source, const std::string& passphrase) {
  if (source.pem.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(source.label, ": too large"));
  }
  ERR_clear_error();
  BioPtr bio = memBio(source.pem);
  if (!bio) return absl::ResourceExhaustedError(withOpenSslErrors("BIO_new_mem_buf failed"));
  PKCS12* p12 = d2i_PKCS12_bio(bio.get(), nullptr);
  if (p12 == nullptr) {
    return absl::InvalidArgumentError(withOpenSslErrors(
        absl::StrCat(source.label, ": not a PKCS#12 archive (DER)")));
  }
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* extra = nullptr;
  int ok = PKCS12_parse(p12, passphrase.c_str(), &key, &cert, &extra);
  PKCS12_free(p12);
  Identity id;
  id.key.reset(key);
  if (cert != nullptr) id.chain.emplace_back(cert);
  if (extra != nullptr) {
    for (int i = 0; i < sk_X509_num(extra); ++i) id.chain.emplace_back(sk_X509_value(extra, i));
    sk_X509_free(extra);  // the certificates now belong to id.chain
  }
  if (ok != 1) {
    return absl::InvalidArgumentError(withOpenSslErrors(absl::StrCat(
        source.label, ": cannot decrypt the PKCS#12 archive (wrong TlsOptions.passphrase?)")));
  }
  if (cert == nullptr || key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(source.label, ": the PKCS#12 archive has no certificate with its key"));
  }
  ERR_clear_error();
  return id;
}

// Node's ticket keys: 16 bytes key name, 16 HMAC-SHA256 key, 16 AES-128-CBC key. Taken from the
// engine's own context: after an SNICallback switched the SSL_CTX, tickets still belong to the
// server's context (OpenSSL calls the session context's callback too).
int ticketKeyCallback(SSL* ssl, unsigned char key_name[16], unsigned char iv[16],
                      EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) {
  const auto* engine = static_cast<const TlsEngine*>(SSL_get_app_data(ssl));
  if (engine == nullptr) return -1;
  const std::string* keys = &engine->context()->options().ticketKeys;
  if (keys->size() != 48) return -1;
  const auto* bytes = reinterpret_cast<const unsigned char*>(keys->data());
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(bytes + 16),
                                        16),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (enc == 1) {
    std::memcpy(key_name, bytes, 16);
    if (RAND_bytes(iv, 16) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, bytes + 32, iv) != 1) return -1;
  } else {
    if (std::memcmp(key_name, bytes, 16) != 0) return 0;  // not ours: full handshake
    if (EVP_DecryptInit_ex(cipher, EVP_aes_128_cbc(), nullptr, bytes + 32, iv) != 1) return -1;
  }
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  return 1;
}

// The server name (host_name) of a ClientHello's server_name extension (RFC 6066 §3), "" if none.
std::string clientHelloServername(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1 || len < 2) return "";
  size_t list = (static_cast<size_t>(p[0]) << 8) | p[1];
  if (list + 2 != len) return "";
  size_t i = 2;
  while (i + 3 <= len) {
    unsigned type = p[i];
    size_t n = (static_cast<size_t>(p[i + 1]) << 8) | p[i + 2];
    i += 3;
    if (i + n > len) return "";
    if (type == TLSEXT_NAMETYPE_host_name) return std::string(reinterpret_cast<const char*>(p + i), n);
    i += n;
  }
  return "";
}

PeerCertificate certificateInfo(X509* cert);

}  // namespace

// ------------------------------------------------------------------------------------------------
// TlsContext

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::createServer(const TlsOptions& options) {
  return create(true, options);
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::createClient(const TlsOptions& options) {
  return create(false, options);
}

absl::StatusOr<std::shared_ptr<TlsContext>> TlsContext::create(bool is_server,
                                                                const TlsOptions& options) {
  // Options that need no OpenSSL first.
  absl::StatusOr<int> min_version = parseVersion(options.minVersion, "TlsOptions.minVersion");
  if (!min_version.ok()) return min_version.status();
  absl::StatusOr<int> max_version = parseVersion(options.maxVersion, "TlsOptions.maxVersion");
  if (!max_version.ok()) return max_version.status();
  if (*min_version > *max_version) {
    return absl::InvalidArgumentError(absl::StrCat("TlsOptions.minVersion \"", options.minVersion,
                                                   "\" is above TlsOptions.maxVersion \"",
                                                   options.maxVersion, "\""));
  }
  std::string alpn_wire;
  for (const std::string& protocol : options.ALPNProtocols) {
    if (protocol.empty() || protocol.size() > 255) {
      return absl::InvalidArgumentError(absl::StrCat(
          "TlsOptions.ALPNProtocols: \"", protocol, "\" must be 1 to 255 bytes long"));
    }
    alpn_wire.push_back(static_cast<char>(protocol.size()));
    alpn_wire.append(protocol);
  }

  absl::StatusOr<PemSource> cert =
      loadPem(options.cert, options.certFile, "TlsOptions.cert", "TlsOptions.certFile");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<PemSource> key =
      loadPem(options.key, options.keyFile, "TlsOptions.key", "TlsOptions.keyFile");
  if (!key.ok()) return key.status();
  absl::StatusOr<PemSource> ca =
      loadPem(options.ca, options.caFile, "TlsOptions.ca", "TlsOptions.caFile");
  if (!ca.ok()) return ca.status();
  absl::StatusOr<PemSource> pfx =
      loadPem(options.pfx, options.pfxFile, "TlsOptions.pfx", "TlsOptions.pfxFile");
  if (!pfx.ok()) return pfx.status();
  absl::StatusOr<PemSource> crl =
      loadPem(options.crl, options.crlFile, "TlsOptions.crl", "TlsOptions.crlFile");
  if (!crl.ok()) return crl.status();
  if (pfx->present && (cert->present || key->present)) {
    return absl::InvalidArgumentError(absl::StrCat(
        pfx->label, " and ", cert->present ? cert->label : key->label,
        " are both set: give the certificate and key either as PKCS#12 or as PEM"));
  }
  if (is_server && !cert->present && !pfx->present) {
    return absl::InvalidArgumentError(
        "a TLS server needs a certificate: set TlsOptions.cert or TlsOptions.certFile (or pfx)");
  }
  if (!options.ticketKeys.empty() && options.ticketKeys.size() != 48) {
    return absl::InvalidArgumentError(absl::StrCat("TlsOptions.ticketKeys: must be 48 bytes, not ",
                                                   options.ticketKeys.size()));
  }
  if (options.sessionTimeout < 0 || options.sessionTimeout > INT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TlsOptions.sessionTimeout: ", options.sessionTimeout, " is not in 0..2^31-1 seconds"));
  }
  if (!options.session.empty()) {
    const auto* der = reinterpret_cast<const unsigned char*>(options.session.data());
    SSL_SESSION* session = d2i_SSL_SESSION(nullptr, &der, static_cast<long>(options.session.size()));
    if (session == nullptr) {
      return absl::InvalidArgumentError(
          withOpenSslErrors("TlsOptions.session: not a serialized TLS session"));
    }
    SSL_SESSION_free(session);
  }
  if (cert->present && !key->present) {
    return absl::InvalidArgumentError(absl::StrCat(
        cert->label, " is set but no private key: set TlsOptions.key or TlsOptions.keyFile"));
  }
  if (key->present && !cert->present) {
    return absl::InvalidArgumentError(absl::StrCat(
        key->label, " is set but no certificate: set TlsOptions.cert or TlsOptions.certFile"));
  }

  std::shared_ptr<TlsContext> context(new TlsContext(is_server, options));
  context->alpn_wire_ = std::move(alpn_wire);
  if (!is_server) context->session_ = options.session;
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(is_server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) return absl::ResourceExhaustedError(withOpenSslErrors("SSL_CTX_new failed"));
  context->ctx_ = ctx;

  if (SSL_CTX_set_min_proto_version(ctx, *min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, *max_version) != 1) {
    return absl::InvalidArgumentError(withOpenSslErrors("cannot set the TLS versions"));
  }
  // RFC 9113 §9.2.1: no renegotiation, no compression.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               (is_server && options.honorCipherOrder
                                    ? SSL_OP_CIPHER_SERVER_PREFERENCE
                                    : 0) |
                               options.secureOptions);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  if (absl::Status st = applyCiphers(ctx, options.ciphers); !st.ok()) return st;
  if (!options.ecdhCurve.empty() && options.ecdhCurve != "auto" &&
      SSL_CTX_set1_groups_list(ctx, options.ecdhCurve.c_str()) != 1) {
    return absl::InvalidArgumentError(withOpenSslErrors(
        absl::StrCat("TlsOptions.ecdhCurve: \"", options.ecdhCurve, "\" is not a valid curve list")));
  }
  ERR_clear_error();
  if (!options.sigalgs.empty() && SSL_CTX_set1_sigalgs_list(ctx, options.sigalgs.c_str()) != 1) {
    return absl::InvalidArgumentError(withOpenSslErrors(absl::StrCat(
        "TlsOptions.sigalgs: \"", options.sigalgs, "\" is not a valid signature algorithm list")));
  }
  if (options.dhparam == "auto") {
    SSL_CTX_set_dh_auto(ctx, 1);
  } else if (!options.dhparam.empty()) {
    ERR_clear_error();
    BioPtr bio = memBio(options.dhparam);
    PkeyPtr dh(bio ? PEM_read_bio_Parameters(bio.get(), nullptr) : nullptr);
    if (!dh || EVP_PKEY_get_base_id(dh.get()) != EVP_PKEY_DH) {
      return absl::InvalidArgumentError(withOpenSslErrors(
          "TlsOptions.dhparam: not PEM DH parameters (\"-----BEGIN DH PARAMETERS-----\") nor "
          "\"auto\""));
    }
    if (EVP_PKEY_get_bits(dh.get()) < 1024) {
      return absl::InvalidArgumentError(absl::StrCat(
          "TlsOptions.dhparam: ", EVP_PKEY_get_bits(dh.get()),
          "-bit DH parameters are too small (Node and h2rpc require 1024 bits or more)"));
    }
    if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh.get()) != 1) {
      return absl::InvalidArgumentError(withOpenSslErrors("TlsOptions.dhparam: rejected"));
    }
    dh.release();  // now the SSL_CTX's
  }

  // Node adds a pfx's extra certificates to the trusted store (and, on a server, to the CA names
  // of its certificate request) as well as sending them as the chain (checked with Node 20).
  std::vector<X509Ptr> pfx_extras;
  if (cert->present || pfx->present) {
    Identity identity;
    if (pfx->present) {
      absl::StatusOr<Identity> parsed = parsePfx(*pfx, options.passphrase);
      if (!parsed.ok()) return parsed.status();
      identity = *std::move(parsed);
      cert = pfx;
      key = pfx;
      for (size_t i = 1; i < identity.chain.size(); ++i) {
        X509_up_ref(identity.chain[i].get());
        pfx_extras.emplace_back(identity.chain[i].get());
      }
    } else {
      absl::StatusOr<std::vector<X509Ptr>> certs = parseCertificates(*cert, /*first_aux=*/true);
      if (!certs.ok()) return certs.status();
      absl::StatusOr<PkeyPtr> parsed = parsePrivateKey(*key, options.passphrase);
      if (!parsed.ok()) return parsed.status();
      identity.chain = *std::move(certs);
      identity.key = *std::move(parsed);
    }
    std::vector<X509Ptr>* chain = &identity.chain;
    PkeyPtr* pkey = &identity.key;
    X509* leaf = (*chain)[0].get();
    if (X509_check_private_key(leaf, pkey->get()) != 1) {
      return absl::InvalidArgumentError(withOpenSslErrors(absl::StrCat(
          "the private key (", key->label, ") does not match the certificate (", cert->label,
          "): it is not the private half of the certificate's public key")));
    }
    if (SSL_CTX_use_certificate(ctx, leaf) != 1) {
      return absl::InvalidArgumentError(withOpenSslErrors(
          absl::StrCat(cert->label, ": OpenSSL rejected the certificate")));
    }
    for (size_t i = 1; i < chain->size(); ++i) {
      if (SSL_CTX_add1_chain_cert(ctx, (*chain)[i].get()) != 1) {
        return absl::InvalidArgumentError(withOpenSslErrors(absl::StrCat(
            cert->label, ": OpenSSL rejected chain certificate #", i + 1)));
      }
    }
    if (SSL_CTX_use_PrivateKey(ctx, pkey->get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
      return absl::InvalidArgumentError(withOpenSslErrors(absl::StrCat(
          "the private key (", key->label, ") does not match the certificate (", cert->label,
          ")")));
    }
  }

  bool verify_peer = !is_server || options.requestCert;
  if (verify_peer) {
    if (ca->present) {
      absl::StatusOr<std::vector<X509Ptr>> cas = parseCertificates(*ca, /*first_aux=*/false);
      if (!cas.ok()) return cas.status();
      X509_STORE* store = SSL_CTX_get_cert_store(ctx);
      for (const X509Ptr& c : *cas) {
        if (X509_STORE_add_cert(store, c.get()) != 1) {
          unsigned long code = ERR_peek_last_error();
          if (ERR_GET_REASON(code) == X509_R_CERT_ALREADY_IN_HASH_TABLE) {
            ERR_clear_error();
            continue;
          }
          return absl::InvalidArgumentError(
              withOpenSslErrors(absl::StrCat(ca->label, ": cannot add a CA certificate")));
        }
        if (is_server && SSL_CTX_add_client_CA(ctx, c.get()) != 1) {
          return absl::InvalidArgumentError(
              withOpenSslErrors(absl::StrCat(ca->label, ": cannot add a client CA name")));
        }
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return absl::InternalError(withOpenSslErrors("cannot load the system's default CA store"));
    }
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    for (const X509Ptr& c : pfx_extras) {
      if (X509_STORE_add_cert(store, c.get()) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
          return absl::InvalidArgumentError(withOpenSslErrors(
              absl::StrCat(pfx->label, ": cannot trust a certificate of the PKCS#12 archive")));
        }
        ERR_clear_error();
      }
      if (is_server && SSL_CTX_add_client_CA(ctx, c.get()) != 1) {
        return absl::InvalidArgumentError(
            withOpenSslErrors(absl::StrCat(pfx->label, ": cannot add a client CA name")));
      }
    }
    int mode = SSL_VERIFY_PEER;
    if (is_server && options.rejectUnauthorized) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    if (!is_server && options.checkServerIdentity) {
      SSL_CTX_set_verify(ctx, mode, &TlsContext::verifyPeer);
    } else {
      SSL_CTX_set_verify(ctx, mode, options.rejectUnauthorized ? nullptr : acceptAnyCertificate);
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (crl->present) {
    absl::StatusOr<std::vector<CrlPtr>> crls = parseCrls(*crl);
    if (!crls.ok()) return crls.status();
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    for (const CrlPtr& c : *crls) {
      if (X509_STORE_add_crl(store, c.get()) != 1) {
        return absl::InvalidArgumentError(
            withOpenSslErrors(absl::StrCat(crl->label, ": cannot add a CRL")));
      }
    }
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }

  if (is_server) {
    // Resumption with a verified client would fail without a session id context.
    SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(kSessionIdContext),
                                   sizeof(kSessionIdContext) - 1);
    // Installed even without protocols of our own, to record what the client offers.
    SSL_CTX_set_alpn_select_cb(ctx, &TlsContext::selectAlpn, context.get());
    SSL_CTX_set_timeout(ctx, options.sessionTimeout > 0 ? options.sessionTimeout : 300);
    if (!options.ticketKeys.empty()) SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticketKeyCallback);
    if (options.SNICallback) SSL_CTX_set_client_hello_cb(ctx, &TlsContext::clientHello, nullptr);
  } else {
    // Sessions are handed to onSession, not kept by OpenSSL.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &TlsContext::newSession);
  }
  if (!is_server && !context->alpn_wire_.empty()) {
    if (SSL_CTX_set_alpn_protos(ctx,
                                reinterpret_cast<const unsigned char*>(context->alpn_wire_.data()),
                                static_cast<unsigned int>(context->alpn_wire_.size())) != 0) {
      return absl::InvalidArgumentError(withOpenSslErrors("TlsOptions.ALPNProtocols: rejected"));
    }
  }
  ERR_clear_error();
  return context;
}

int TlsContext::selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                           const unsigned char* in, unsigned int inlen, void* arg) {
  auto* self = static_cast<TlsContext*>(arg);
  auto* engine = static_cast<TlsEngine*>(SSL_get_app_data(ssl));
  // After an SNICallback switched the SSL_CTX, the server's own ALPNProtocols still apply.
  if (engine != nullptr) self = engine->context_.get();
  if (engine != nullptr) {
    engine->client_alpn_.clear();
    for (unsigned int i = 0; i < inlen;) {
      unsigned int len = in[i];
      if (len == 0 || i + 1 + len > inlen) break;  // OpenSSL validated it; be safe anyway
      engine->client_alpn_.emplace_back(reinterpret_cast<const char*>(in + i + 1), len);
      i += 1 + len;
    }
  }
  unsigned char* selected = nullptr;
  if (inlen == 0 || self->alpn_wire_.empty()) return SSL_TLSEXT_ERR_NOACK;
  if (SSL_select_next_proto(&selected, outlen,
                            reinterpret_cast<const unsigned char*>(self->alpn_wire_.data()),
                            static_cast<unsigned int>(self->alpn_wire_.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    // The client offered protocols, none of ours: abort with the no_application_protocol
    // alert (120), as Node 20 does (RFC 7301 §3.2). A client offering no ALPN at all still
    // completes the handshake, for the server's 'unknownProtocol' handling.
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int TlsContext::clientHello(SSL* ssl, int* alert, void*) {
  auto* engine = static_cast<TlsEngine*>(SSL_get_app_data(ssl));
  if (engine == nullptr) return SSL_CLIENT_HELLO_SUCCESS;
  const TlsOptions& options = engine->context_->options();
  if (!engine->sni_asked_) {
    engine->sni_asked_ = true;
    std::string name = clientHelloServername(ssl);
    if (name.empty() || !options.SNICallback) {
      engine->sni_answered_ = true;  // Node calls SNICallback only for a client that sent a name
    } else {
      std::weak_ptr<bool> alive = engine->alive_;
      engine->in_client_hello_ = true;
      options.SNICallback(name, [engine, alive](absl::Status status,
                                                std::shared_ptr<TlsContext> context) {
        std::shared_ptr<bool> live = alive.lock();
        if (!live || !*live) return;
        engine->onSniAnswer(std::move(status), std::move(context));
      });
      engine->in_client_hello_ = false;
    }
  }
  if (!engine->sni_answered_) return SSL_CLIENT_HELLO_RETRY;  // the handshake waits
  if (!engine->sni_status_.ok()) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  if (engine->sni_context_ && SSL_get_SSL_CTX(ssl) != engine->sni_context_->native()) {
    if (SSL_set_SSL_CTX(ssl, engine->sni_context_->native()) == nullptr) {
      engine->sni_status_ = absl::InternalError("SNICallback: cannot switch to its TlsContext");
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_CLIENT_HELLO_ERROR;
    }
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

int TlsContext::verifyPeer(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* engine = ssl != nullptr ? static_cast<TlsEngine*>(SSL_get_app_data(ssl)) : nullptr;
  if (engine == nullptr) return preverify_ok;
  const TlsOptions& options = engine->context_->options();
  if (preverify_ok != 1) return options.rejectUnauthorized ? 0 : 1;
  if (X509_STORE_CTX_get_error_depth(store) != 0 || !options.checkServerIdentity) return 1;
  // Node calls checkServerIdentity once the chain verified, with the leaf certificate.
  engine->identity_error_ = absl::OkStatus();
  absl::Status verdict = options.checkServerIdentity(stripBrackets(engine->servername_),
                                                     certificateInfo(X509_STORE_CTX_get_current_cert(store)));
  if (verdict.ok()) return 1;
  engine->identity_error_ = absl::UnauthenticatedError(
      absl::StrCat("checkServerIdentity: ", verdict.message()));
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return options.rejectUnauthorized ? 0 : 1;
}

int TlsContext::newSession(SSL* ssl, SSL_SESSION* session) {
  auto* engine = static_cast<TlsEngine*>(SSL_get_app_data(ssl));
  if (engine == nullptr || !engine->onSession) return 0;
  unsigned char* der = nullptr;
  int n = i2d_SSL_SESSION(session, &der);
  if (n > 0) {
    std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(n));
    OPENSSL_free(der);
    engine->onSession(std::move(bytes));
  } else {
    OPENSSL_free(der);
  }
  return 0;  // we keep no reference to `session`
}

// ------------------------------------------------------------------------------------------------
// TlsEngineBio: the BIO between an engine's SSL and the engine (the file's first comment).

struct TlsEngineBio {
  static int write(BIO* bio, const char* data, size_t len, size_t* written) {
    BIO_clear_retry_flags(bio);
    static_cast<TlsEngine*>(BIO_get_data(bio))->output_.append(data, len);
    *written = len;
    return 1;
  }
  static int read(BIO* bio, char* out, size_t len, size_t* read) {
    BIO_clear_retry_flags(bio);
    std::string_view& in = static_cast<TlsEngine*>(BIO_get_data(bio))->in_;
    *read = 0;
    if (in.empty()) {
      BIO_set_retry_read(bio);  // SSL_ERROR_WANT_READ: the next feedCiphertext() goes on
      return 0;
    }
    *read = std::min(len, in.size());
    std::memcpy(out, in.data(), *read);
    in.remove_prefix(*read);
    return 1;
  }
  // FLUSH succeeds (the output is in output_ already); nothing else applies (PENDING: none).
  static long ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }
  // One method for the process, never freed.
  static const BIO_METHOD* method() {
    static const BIO_METHOD* const kMethod = [] {
      const int index = BIO_get_new_index();
      BIO_METHOD* m = index == -1 ? nullptr
                                  : BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "h2rpc TLS engine");
      if (m != nullptr &&
          (BIO_meth_set_write_ex(m, write) != 1 || BIO_meth_set_read_ex(m, read) != 1 ||
           BIO_meth_set_ctrl(m, ctrl) != 1)) {
        BIO_meth_free(m);
        m = nullptr;
      }
      return m;
    }();
    return kMethod;
  }
};

// ------------------------------------------------------------------------------------------------
// TlsEngine

std::unique_ptr<TlsEngine> TlsEngine::create(std::shared_ptr<TlsContext> context, bool isServer) {
  if (!context || context->isServer() != isServer) return nullptr;
  std::unique_ptr<TlsEngine> engine(new TlsEngine(std::move(context), isServer));
  if (engine->ssl_ == nullptr) return nullptr;
  return engine;
}

TlsEngine::TlsEngine(std::shared_ptr<TlsContext> context, bool is_server)
    : context_(std::move(context)), is_server_(is_server) {
  ERR_clear_error();
  SSL* ssl = SSL_new(context_->native());
  if (ssl == nullptr) return;
  const BIO_METHOD* method = TlsEngineBio::method();
  BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
  if (bio == nullptr) {
    SSL_free(ssl);
    ERR_clear_error();
    return;
  }
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // the SSL owns it
  SSL_set_app_data(ssl, this);
  if (is_server_) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    servername_ = context_->options().servername;
    session_ = context_->session_;
  }
  ssl_ = ssl;
}

TlsEngine::~TlsEngine() {
  *alive_ = false;
  if (ssl_ != nullptr) SSL_free(ssl_);
}

absl::Status TlsEngine::setServername(std::string servername) {
  if (is_server_) return absl::FailedPreconditionError("setServername() is for clients only");
  if (started_) return absl::FailedPreconditionError("setServername() must precede start()");
  servername_ = std::move(servername);
  return absl::OkStatus();
}

absl::Status TlsEngine::setSession(std::string session) {
  if (is_server_) return absl::FailedPreconditionError("setSession() is for clients only");
  if (started_) return absl::FailedPreconditionError("setSession() must precede start()");
  if (!session.empty()) {
    const auto* der = reinterpret_cast<const unsigned char*>(session.data());
    SSL_SESSION* parsed = d2i_SSL_SESSION(nullptr, &der, static_cast<long>(session.size()));
    if (parsed == nullptr) {
      return absl::InvalidArgumentError(
          withOpenSslErrors("setSession(): not a serialized TLS session"));
    }
    SSL_SESSION_free(parsed);
  }
  session_ = std::move(session);
  return absl::OkStatus();
}

absl::Status TlsEngine::begin() {
  if (started_) return absl::OkStatus();
  started_ = true;
  if (is_server_) return absl::OkStatus();
  if (!session_.empty()) {
    const auto* der = reinterpret_cast<const unsigned char*>(session_.data());
    SSL_SESSION* session = d2i_SSL_SESSION(nullptr, &der, static_cast<long>(session_.size()));
    // Checked when set; a session OpenSSL does not take just means a full handshake.
    if (session != nullptr) {
      SSL_set_session(ssl_, session);
      SSL_SESSION_free(session);
    }
    ERR_clear_error();
  }
  std::string name = stripBrackets(servername_);
  if (name.empty()) return absl::OkStatus();
  ERR_clear_error();
  // With a checkServerIdentity hook, the name is the hook's to check (SNI is still sent).
  const bool hook = static_cast<bool>(context_->options().checkServerIdentity);
  if (isIpAddress(name)) {
    if (hook) return error_;
    // Checked against the IP SANs; no SNI for addresses (RFC 6066 §3).
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str()) != 1) {
      error_ = absl::InvalidArgumentError(
          withOpenSslErrors(absl::StrCat("servername '", servername_, "': bad IP address")));
    }
    return error_;
  }
  SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (name.find('\0') != std::string::npos || name.size() > 255 ||
      SSL_set_tlsext_host_name(ssl_, name.c_str()) != 1 ||
      (!hook && SSL_set1_host(ssl_, name.c_str()) != 1)) {
    error_ = absl::InvalidArgumentError(withOpenSslErrors(
        absl::StrCat("servername '", servername_, "' is not a valid host name")));
  }
  return error_;
}

absl::Status TlsEngine::start() {
  if (!error_.ok()) return error_;
  if (started_) return absl::OkStatus();
  if (absl::Status s = begin(); !s.ok()) return s;
  return run();
}

absl::Status TlsEngine::resume() {
  if (!error_.ok()) return error_;
  if (!started_ || handshake_done_) return absl::OkStatus();
  return run();
}

void TlsEngine::onSniAnswer(absl::Status status, std::shared_ptr<TlsContext> context) {
  if (sni_answered_) return;  // answered twice: the first answer stands
  if (status.ok() && context && !context->isServer()) {
    status = absl::InvalidArgumentError(
        "SNICallback: the answer's TlsContext is a client context (use TlsContext::createServer)");
  }
  sni_answered_ = true;
  sni_status_ = std::move(status);
  sni_context_ = std::move(context);
  if (in_client_hello_) return;  // answered inside the callback: the handshake goes on by itself
  if (onResume) {
    onResume();
  } else {
    resume().IgnoreError();  // kept in error_: the next call into the engine returns it
  }
}

absl::Status TlsEngine::run() {
  if (!process()) return absl::OkStatus();
  if (!flushOutput()) return absl::OkStatus();
  return error_;
}

absl::Status TlsEngine::feedCiphertext(std::string_view bytes) {
  if (!error_.ok()) return error_;
  if (feeding_) {
    // Fed from inside a callback of an outer feedCiphertext(): those bytes come after the outer
    // call's, which still has some to push. It processes these before returning.
    reentrant_input_.append(bytes);
    return absl::OkStatus();
  }
  if (absl::Status s = begin(); !s.ok()) return s;
  feeding_ = true;
  // What OpenSSL left unread last time (in_, in unread_) goes first.
  std::string more;
  if (!in_.empty()) {
    more.reserve(in_.size() + bytes.size());
    more.append(in_).append(bytes);
    bytes = more;
  }
  in_ = {};
  unread_ = std::string();
  for (;;) {
    do {
      if (peer_close_notify_) {
        bytes = {};  // nothing may follow close_notify: drop it
        break;
      }
      const size_t n = std::min(kInputSlice, bytes.size());
      in_ = bytes.substr(0, n);
      if (!process()) return absl::OkStatus();
      const size_t consumed = n - in_.size();
      in_ = {};
      bytes.remove_prefix(consumed);
      if (consumed == 0) break;  // OpenSSL waits (for the SNICallback's answer): kept below
    } while (!bytes.empty() && error_.ok());
    if (reentrant_input_.empty() || !error_.ok()) break;
    // Fed from a callback: after what is left of ours.
    std::string next;
    next.reserve(bytes.size() + reentrant_input_.size());
    next.append(bytes).append(reentrant_input_);
    reentrant_input_.clear();
    more = std::move(next);
    bytes = more;
  }
  feeding_ = false;
  reentrant_input_.clear();
  if (!bytes.empty() && error_.ok()) {
    if (bytes.size() > kMaxUnread) {
      error_ = absl::InternalError("TLS engine stalled: OpenSSL does not read its input");
    } else {
      unread_.assign(bytes.data(), bytes.size());  // bytes is the caller's or `more`, not unread_
      in_ = unread_;
    }
  }
  if (!flushOutput()) return absl::OkStatus();
  return error_;
}

absl::Status TlsEngine::writePlaintext(std::string_view bytes) {
  if (!error_.ok()) return error_;
  if (shutdown_requested_) {
    return absl::FailedPreconditionError("TLS: writePlaintext() after shutdown()");
  }
  if (!started_) {
    std::shared_ptr<bool> alive = alive_;
    absl::Status s = start();  // may hand the ClientHello to onCiphertext, which may destroy us
    if (!*alive) return absl::OkStatus();
    if (!s.ok()) return s;
  }
  if (!handshake_done_ || !pending_plaintext_.empty()) {
    pending_plaintext_.append(bytes);
  } else {
    size_t consumed = writeNow(bytes);
    if (consumed < bytes.size() && error_.ok()) pending_plaintext_.append(bytes.substr(consumed));
  }
  if (!flushOutput()) return absl::OkStatus();
  return error_;
}

size_t TlsEngine::writeNow(std::string_view data) {
  size_t consumed = 0;
  while (consumed < data.size() && error_.ok()) {
    ERR_clear_error();
    size_t written = 0;
    int r = SSL_write_ex(ssl_, data.data() + consumed, data.size() - consumed, &written);
    if (r == 1) {
      consumed += written;
      continue;
    }
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) break;  // retried after the next feedCiphertext()
    fail(r, "TLS write failed");
  }
  return consumed;
}

void TlsEngine::writePending() {
  if (!pending_plaintext_.empty()) {
    size_t consumed = writeNow(pending_plaintext_);
    pending_plaintext_.erase(0, consumed);
    if (pending_plaintext_.empty()) pending_plaintext_.shrink_to_fit();
  }
  if (shutdown_requested_ && !close_notify_sent_ && pending_plaintext_.empty() && error_.ok()) {
    sendCloseNotify();
  }
}

void TlsEngine::sendCloseNotify() {
  for (int attempt = 0; attempt < 4 && !close_notify_sent_; ++attempt) {
    ERR_clear_error();
    int r = SSL_shutdown(ssl_);
    if (r >= 0) {
      close_notify_sent_ = true;
      break;
    }
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      // Sent or queued as far as OpenSSL is concerned; what it waits for is the peer's answer.
      close_notify_sent_ = (SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN) != 0;
      break;
    }
    fail(r, "TLS shutdown failed");
    break;
  }
}

void TlsEngine::shutdown() {
  if (!error_.ok() || shutdown_requested_) return;
  shutdown_requested_ = true;
  if (handshake_done_ && pending_plaintext_.empty()) {
    sendCloseNotify();
    flushOutput();
  }
}

bool TlsEngine::process() {
  std::shared_ptr<bool> alive = alive_;
  if (!error_.ok()) return true;
  if (!handshake_done_) {
    for (;;) {
      ERR_clear_error();
      int r = SSL_do_handshake(ssl_);
      if (r == 1) break;
      int e = SSL_get_error(ssl_, r);
      // WANT_CLIENT_HELLO_CB: waiting for the SNICallback's answer (see resume()).
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_CLIENT_HELLO_CB) return true;
      fail(r, "TLS handshake failed");
      return true;
    }
    handshake_done_ = true;
    writePending();
    if (onHandshakeDone) {
      onHandshakeDone();
      if (!*alive) return false;
    }
  }
  char buf[kMaxPlaintextChunk];
  while (error_.ok() && !peer_close_notify_) {
    ERR_clear_error();
    size_t n = 0;
    int r = SSL_read_ex(ssl_, buf, sizeof(buf), &n);
    if (r == 1) {
      if (onPlaintext) {
        onPlaintext(std::string_view(buf, n));
        if (!*alive) return false;
      }
      continue;
    }
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      peer_close_notify_ = true;
      if (onCloseNotify) {
        onCloseNotify();
        if (!*alive) return false;
      }
      break;
    }
    fail(r, "TLS error");
  }
  if (error_.ok() && (!pending_plaintext_.empty() || (shutdown_requested_ && !close_notify_sent_))) {
    writePending();
  }
  return true;
}

bool TlsEngine::flushOutput() {
  if (!onCiphertext || output_.empty()) return true;
  std::shared_ptr<bool> alive = alive_;
  std::string out = std::move(output_);
  output_ = std::string();
  onCiphertext(std::move(out));
  return *alive;
}

std::string TlsEngine::takeCiphertext() {
  std::string out = std::move(output_);
  output_ = std::string();
  return out;
}

size_t TlsEngine::pendingCiphertextBytes() const {
  return output_.size();
}

void TlsEngine::fail(int ret, std::string_view what) {
  int ssl_error = SSL_get_error(ssl_, ret);
  unsigned long first = 0;
  std::string errors = takeOpenSslErrors(&first);
  std::string message(what);
  absl::StatusCode code = absl::StatusCode::kUnavailable;
  if (first != 0) {
    const char* reason = ERR_reason_error_string(first);
    absl::StrAppend(&message, ": ", reason != nullptr ? reason : "unknown error");
    int lib = ERR_GET_LIB(first);
    int r = ERR_GET_REASON(first);
    if (lib == ERR_LIB_SSL && r == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      code = absl::StatusCode::kUnauthenticated;
      long verify = SSL_get_verify_result(ssl_);
      absl::StrAppend(&message, ": ", X509_verify_cert_error_string(verify));
    } else if (lib == ERR_LIB_SSL && r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
      code = absl::StatusCode::kUnauthenticated;
    }
    appendServername(&message);
    absl::StrAppend(&message, " [", errors, "]");
  } else if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    absl::StrAppend(&message, ": the peer sent close_notify");
    appendServername(&message);
  } else {
    absl::StrAppend(&message, ": SSL_get_error() = ", ssl_error, " without an OpenSSL error");
    appendServername(&message);
  }
  if (!sni_status_.ok()) {
    error_ = absl::Status(sni_status_.code(), absl::StrCat("SNICallback: ", sni_status_.message()));
    return;
  }
  if (!identity_error_.ok()) {
    absl::StrAppend(&message, " (", identity_error_.message(), ")");
  }
  error_ = absl::Status(code, message);
}

void TlsEngine::appendServername(std::string* message) const {
  if (!handshake_done_ && !is_server_ && !servername_.empty()) {
    absl::StrAppend(message, " (servername '", servername_, "')");
  }
}

std::string TlsEngine::alpnProtocol() const {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data), len);
}

std::string TlsEngine::protocolVersion() const {
  return handshake_done_ ? std::string(SSL_get_version(ssl_)) : std::string();
}

std::string TlsEngine::cipherName() const {
  if (!handshake_done_) return std::string();
  const char* name = SSL_get_cipher_name(ssl_);
  return name != nullptr ? std::string(name) : std::string();
}

std::string TlsEngine::servername() const {
  if (!is_server_) return servername_;
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name != nullptr ? std::string(name) : std::string();
}

absl::Status TlsEngine::verifyResult() const {
  if (!handshake_done_) {
    return absl::FailedPreconditionError("verifyResult(): the TLS handshake is not done");
  }
  if (SSL_get0_peer_certificate(ssl_) == nullptr) {
    return absl::UnauthenticatedError("the peer presented no certificate");
  }
  if (!identity_error_.ok()) return identity_error_;
  long result = SSL_get_verify_result(ssl_);
  if (result != X509_V_OK) {
    return absl::UnauthenticatedError(absl::StrCat("the peer's certificate failed verification: ",
                                                   X509_verify_cert_error_string(result)));
  }
  return absl::OkStatus();
}

std::string PeerCertificate::subjectField(std::string_view field) const {
  for (const auto& [key, value] : subject) {
    if (key == field) return value;
  }
  return "";
}

std::optional<PeerCertificate> TlsEngine::peerCertificate() const {
  if (!handshake_done_) return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) return std::nullopt;
  return certificateInfo(cert);
}

namespace {

PeerCertificate certificateInfo(X509* cert) {
  PeerCertificate out;
  nameEntries(X509_get_subject_name(cert), &out.subject);
  nameEntries(X509_get_issuer_name(cert), &out.issuer);
  out.valid_from = asn1Time(X509_get0_notBefore(cert));
  out.valid_to = asn1Time(X509_get0_notAfter(cert));
  if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(serial)) {
      out.serialNumber = hex;
      OPENSSL_free(hex);
    }
    BN_free(serial);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1) {
    std::vector<std::string> bytes;
    for (unsigned int i = 0; i < md_len; ++i) bytes.push_back(absl::StrFormat("%02X", md[i]));
    out.fingerprint256 = absl::StrJoin(bytes, ":");
  }
  unsigned char* der = nullptr;
  int der_len = i2d_X509(cert, &der);
  if (der_len > 0) out.raw.assign(reinterpret_cast<char*>(der), static_cast<size_t>(der_len));
  OPENSSL_free(der);
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    std::vector<std::string> parts;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      auto text = [](const ASN1_IA5STRING* s) {
        return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<size_t>(ASN1_STRING_length(s)));
      };
      switch (name->type) {
        case GEN_DNS:
          out.dnsNames.push_back(text(name->d.dNSName));
          parts.push_back("DNS:" + out.dnsNames.back());
          break;
        case GEN_URI:
          out.uris.push_back(text(name->d.uniformResourceIdentifier));
          parts.push_back("URI:" + out.uris.back());
          break;
        case GEN_IPADD:
          out.ipAddresses.push_back(ipAddressText(name->d.iPAddress));
          parts.push_back("IP Address:" + out.ipAddresses.back());
          break;
        case GEN_EMAIL:
          parts.push_back("email:" + text(name->d.rfc822Name));
          break;
        default:
          break;  // other name types: not shown (Node prints some of them; none are identities here)
      }
    }
    GENERAL_NAMES_free(names);
    out.subjectaltname = absl::StrJoin(parts, ", ");
  }
  return out;
}

}  // namespace

absl::Status checkServerIdentity(std::string_view hostname, const PeerCertificate& cert) {
  std::string host = stripBrackets(std::string(hostname));
  const auto* der = reinterpret_cast<const unsigned char*>(cert.raw.data());
  X509Ptr x509(d2i_X509(nullptr, &der, static_cast<long>(cert.raw.size())));
  ERR_clear_error();
  const bool ip = isIpAddress(host);
  bool match = false;
  if (x509 && !host.empty() && host.find('\0') == std::string::npos) {
    match = ip ? X509_check_ip_asc(x509.get(), host.c_str(), 0) == 1
               : X509_check_host(x509.get(), host.data(), host.size(),
                                 X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
  }
  ERR_clear_error();
  if (match) return absl::OkStatus();
  // Node's texts (lib/tls.js checkServerIdentity; checked with Node 20): an address is listed
  // against the certificate's IP SANs in canonical form ("::1"), joined with ", ".
  if (ip) {
    std::vector<std::string> ips;
    for (const std::string& address : cert.ipAddresses) ips.push_back(canonicalIp(address));
    return absl::UnauthenticatedError(absl::StrCat(
        "ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: IP: ",
        host, " is not in the cert's list: ", absl::StrJoin(ips, ", ")));
  }
  return absl::UnauthenticatedError(
      absl::StrCat("ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's "
                   "altnames: Host: ", host, ". is not in the cert's altnames: ",
                   cert.subjectaltname));
}

bool TlsEngine::isSessionReused() const {
  return handshake_done_ && SSL_session_reused(ssl_) == 1;
}

std::string TlsEngine::getSession() const {
  if (!handshake_done_) return "";
  SSL_SESSION* session = SSL_get_session(ssl_);
  if (session == nullptr) return "";
  unsigned char* der = nullptr;
  int n = i2d_SSL_SESSION(session, &der);
  std::string out = n > 0 ? std::string(reinterpret_cast<char*>(der), static_cast<size_t>(n)) : "";
  OPENSSL_free(der);
  return out;
}

std::string TlsEngine::authorizationError() const {
  if (!handshake_done_) return "";
  // No certificate at all: Node reports UNABLE_TO_GET_ISSUER_CERT (checked with Node 20).
  if (SSL_get0_peer_certificate(ssl_) == nullptr) return "UNABLE_TO_GET_ISSUER_CERT";
  if (!identity_error_.ok()) {
    // Node: the hook's error.code, else its message.
    absl::string_view message = identity_error_.message();
    message.remove_prefix(std::string_view("checkServerIdentity: ").size());
    size_t colon = message.find(':');
    if (absl::StartsWith(message, "ERR_") && colon != absl::string_view::npos) {
      return std::string(message.substr(0, colon));
    }
    return std::string(message);
  }
  long result = SSL_get_verify_result(ssl_);
  return result == X509_V_OK ? "" : verifyErrorName(result);
}

}  // namespace h2rpc::transport
