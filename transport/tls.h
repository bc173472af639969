// transport/tls.h — a sans-I/O TLS layer (OpenSSL over an in-memory BIO): bytes in, bytes out, no
// sockets. The HTTP/2 session runs over a TCP socket directly or through a TlsEngine identically.
//
//   TlsOptions  Node's tls options as http2.createSecureServer() / http2.connect() take them.
//   TlsContext  an SSL_CTX: certificates, trusted CAs, versions, ALPN. Immutable once created and
//               shared (std::shared_ptr) by all the connections of a server or client.
//   TlsEngine   one connection's TLS state machine.
//
// Driving a TlsEngine from a socket (libuv):
//   - Set the callbacks, then call start() (a client queues its ClientHello; a server waits).
//   - Every byte read from the socket goes to feedCiphertext(). It runs the handshake, then decrypts
//     and calls onPlaintext() in chunks of at most kMaxPlaintextChunk bytes as it reads them; all
//     the bytes fed are consumed before it returns, so nothing accumulates inside the engine
//     (OpenSSL reads them in place; a handshake waiting for the SNICallback's answer leaves at
//     most 32 KiB unread, copied). There is no pause inside a feed: a reader that
//     wants backpressure stops reading the socket, and buffers what one feed still delivers.
//     Bytes that arrive after the peer's close_notify are dropped.
//   - Application data goes to writePlaintext(). Data written before the handshake is done is
//     buffered (without limit: the caller's writes) and encrypted, in order, as soon as it is.
//   - Ciphertext to send: every public call that produced some (start, feedCiphertext,
//     writePlaintext, shutdown) hands it, before returning, to onCiphertext(std::string) in one
//     string that the callback owns (move it into the uv_write request's buffer). Without an
//     onCiphertext callback the bytes wait inside the engine until takeCiphertext() is called.
//     Either way, a call that fails still emits the alert it produced first, so send it before
//     closing the socket.
//   - Errors: the call that meets one returns it; the engine is then dead and every later call
//     returns the same Status. absl::StatusCode::kUnauthenticated = the peer's certificate failed
//     verification (unknown CA, hostname mismatch, no certificate when one is required);
//     kUnavailable = any other TLS failure (garbage bytes, an alert from the peer, no common
//     version, ...). Messages include OpenSSL's error strings. (A call during which a callback
//     destroyed the engine returns OkStatus.)
//   - shutdown() sends close_notify (after the handshake and the buffered data, if called early).
//     Reading continues afterwards. The peer's close_notify sets peerCloseNotify() and calls
//     onCloseNotify(); the engine does not answer it by itself (Node's allowHalfOpen=false answer
//     is the caller's: call shutdown(), then close the socket).
//
// ALPN (server side): the server selects the first of its ALPNProtocols (in its own order of
// preference) that the client offers. When the client offers ALPN but none of those, the server
// aborts the handshake with the no_application_protocol alert, as Node 20 (clientAlpnProtocols()
// still says what was offered). A client that offers no ALPN completes the handshake with
// alpnProtocol() == "" and an empty offer, for the server's 'unknownProtocol' handling.
// That is what the HTTP/2 server needs for Node's 'unknownProtocol' handling (allowHTTP1 = false:
// emit 'unknownProtocol', destroy the socket after unknownProtocolTimeout). A server that allows
// HTTP/1.1 lists {"h2", "http/1.1"} and then sees "http/1.1" for such clients.
//
// SNICallback (server): the handshake waits in feedCiphertext() until the callback's answer; an
// answer given after the callback returned calls onResume (or resume() itself when unset), and the
// driver then calls resume() to go on. The answer's context is another immutable TlsContext that
// this connection switches to; no context is ever modified.
//
// Callbacks: a callback may call any method of its engine, including writePlaintext() and
// shutdown(), and may destroy the engine (the engine notices and returns at once without touching
// itself). Ciphertext fed from inside a callback is processed after the rest of the outer feed. Threading: a TlsEngine belongs to one thread (its loop's); a TlsContext may be shared
// between threads.
#ifndef H2RPC_TRANSPORT_TLS_H_
#define H2RPC_TRANSPORT_TLS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// OpenSSL's types, without its headers.
struct ssl_ctx_st;
struct ssl_st;
struct bio_st;
struct x509_store_ctx_st;
struct ssl_session_st;

namespace h2rpc::transport {

class TlsContext;

// Node's tlsSocket.getPeerCertificate() (the fields h2rpc fills, with Node's names and formats).
struct PeerCertificate {
  // Relative distinguished names in certificate order, by OpenSSL short name: {"O", ...},
  // {"CN", ...} (Node's subject / issuer objects).
  std::vector<std::pair<std::string, std::string>> subject;
  std::vector<std::pair<std::string, std::string>> issuer;
  // "DNS:localhost, IP Address:127.0.0.1, URI:spiffe://..." ("" without the extension).
  std::string subjectaltname;
  std::string valid_from;      // "Nov 25 07:59:22 2026 GMT"
  std::string valid_to;
  std::string serialNumber;    // upper-case hex, "02"
  std::string fingerprint256;  // "9F:1C:...": SHA-256 of the DER
  std::string raw;             // the DER bytes
  // Not in Node: the SANs split by type, so that callers need not parse subjectaltname.
  std::vector<std::string> dnsNames;
  std::vector<std::string> uris;
  std::vector<std::string> ipAddresses;  // as in subjectaltname ("0:0:0:0:0:0:0:1" for ::1)
  // The first value of `field` in the subject ("CN"), or "".
  std::string subjectField(std::string_view field) const;
};

// Node's tls options (tls.createSecureContext / tls.connect / tls.createServer) as h2rpc uses them.
// Each of certificate, key and CAs can be given as PEM contents or as a file path; when both are set
// the contents win.
struct TlsOptions {
  // This side's certificate (chain: leaf first, then intermediates) and private key, PEM. Required
  // on a server; on a client only to answer a server's requestCert.
  std::string cert;
  std::string key;
  std::string certFile;
  std::string keyFile;
  // Passphrase of an encrypted private key (empty: the key must not be encrypted; never prompts).
  std::string passphrase;
  // Trusted CAs (PEM, one or more) that verify the peer's certificate: the server's on a client, the
  // client's on a server with requestCert. When neither is set, the system's default CA store is
  // used (Node uses its bundled Mozilla roots).
  std::string ca;
  std::string caFile;
  // Client: false lets the handshake complete whatever the verification result (which
  // TlsEngine::verifyResult() still reports) — for tests only. Server: with requestCert, false
  // accepts clients without a valid certificate.
  bool rejectUnauthorized = true;
  // Client: SNI and the name the server certificate must match (DNS name or IP address, brackets
  // allowed: "[::1]"). The caller sets it to the host it connects to (http2.connect does). An IP
  // address is checked against the certificate's IP SANs and is not sent as SNI (RFC 6066). Empty:
  // no SNI and no name check (the chain is still verified). TlsEngine::setServername() overrides
  // it per connection.
  std::string servername;
  // Client: offered in this order (empty: no ALPN extension). Server: the accepted protocols in
  // preference order. Each name is 1..255 bytes.
  std::vector<std::string> ALPNProtocols = {"h2"};
  // "TLSv1.2" or "TLSv1.3" (HTTP/2 requires TLS 1.2 or later, RFC 9113 §9.2).
  std::string minVersion = "TLSv1.2";
  std::string maxVersion = "TLSv1.3";
  // Server: ask the client for a certificate (verified with ca/caFile; see rejectUnauthorized).
  bool requestCert = false;
  // OpenSSL cipher list for TLS 1.2 and below (Node's `ciphers`, e.g.
  // "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"); TLS 1.3 suites (names
  // starting "TLS_", as Node splits them) go to SSL_CTX_set_ciphersuites. Empty: Node 20's
  // tls.DEFAULT_CIPHERS (its TLS 1.2 order differs from OpenSSL's). As in Node, a list without
  // TLS 1.3 names keeps the default TLS 1.3 suites, and a list with only TLS 1.3 names leaves no
  // TLS 1.2 cipher and raises minVersion to TLSv1.3 (unless maxVersion is TLSv1.2). A list that
  // selects nothing is kInvalidArgument.
  std::string ciphers;
  // Node's `ecdhCurve`: the key-exchange groups, ':'-separated ("P-256:X25519"), or "auto" /
  // empty for OpenSSL's defaults.
  std::string ecdhCurve;

  // Node's `pfx`: a PKCS#12 archive (DER bytes, not PEM) holding the private key and the
  // certificate, plus its other certificates, which are sent as the chain and, as Node does, also
  // trusted to verify the peer (added to ca/caFile or to the default store; on a server with
  // requestCert, named in the certificate request too); decrypted with `passphrase`
  // (empty: an archive without password). pfxFile: the same from a file. Cannot be combined with
  // cert/key (kInvalidArgument; Node would let one override the other).
  std::string pfx;
  std::string pfxFile;
  // Node's `crl`: certificate revocation lists (PEM, one or more). When set, the peer's whole
  // chain is checked against them (Node's X509_V_FLAG_CRL_CHECK | CRL_CHECK_ALL): a revoked
  // certificate fails with CERT_REVOKED, a certificate whose issuer has no CRL here with
  // UNABLE_TO_GET_CRL.
  std::string crl;
  std::string crlFile;
  // Node's `sigalgs`: the signature algorithms offered / accepted, ':'-separated OpenSSL names
  // ("ECDSA+SHA256:RSA-PSS+SHA256", "ecdsa_secp256r1_sha256"). Empty: OpenSSL's defaults.
  std::string sigalgs;
  // Node's `honorCipherOrder` (server): pick the cipher by the server's order of `ciphers`
  // instead of the client's. true, as the default of Node's tls.createServer and
  // http2.createSecureServer (tls.createSecureContext's is false, but a Node server sets it
  // unless told otherwise; checked with Node 20). Clients ignore it.
  bool honorCipherOrder = true;
  // Node's `secureOptions`: OpenSSL SSL_OP_* bits added to those h2rpc sets (SSL_OP_NO_TLSv1_3,
  // SSL_OP_NO_TICKET, ...). h2rpc's own (no renegotiation, no compression) cannot be removed.
  uint64_t secureOptions = 0;
  // Node's `dhparam` (server): finite-field Diffie-Hellman parameters for the DHE cipher suites of
  // TLS 1.2, PEM ("-----BEGIN DH PARAMETERS-----", at least 1024 bits), or "auto" for OpenSSL's
  // built-in ones sized to the certificate's key. Empty: no DHE suites (as Node).
  std::string dhparam;

  // --- Server: SNI ---
  // Node's SNICallback(servername, cb): called during the handshake of a connection whose client
  // sent an SNI name (not for clients without one), before the certificate is chosen. `answer`
  // may be called at once or later, on the engine's thread, once: an error Status fails the
  // handshake with that status (the client gets an internal_error alert); OK with a server
  // TlsContext makes this connection use that context's certificate, key, CAs (for requestCert)
  // and ciphers; OK with nullptr keeps this context. The handshake waits for the answer. Only
  // the outer server's ALPNProtocols, requestCert and rejectUnauthorized apply (as Node).
  using SniAnswer = std::function<void(absl::Status, std::shared_ptr<TlsContext>)>;
  std::function<void(const std::string& servername, SniAnswer answer)> SNICallback;

  // --- Session resumption ---
  // Server: Node's `sessionTimeout`, seconds after which a session (ticket) the server issued is no
  // longer resumable; also the lifetime hint of its tickets. 0: Node's default, 300.
  int64_t sessionTimeout = 0;
  // Server: Node's `ticketKeys`, exactly 48 bytes (16 key name, 16 HMAC-SHA256 key, 16 AES-128
  // key, Node's layout): servers (or contexts, e.g. after setSecureContext) sharing them resume
  // each other's sessions. Empty: random keys of this context.
  std::string ticketKeys;
  // Client: Node's `session`, a session saved from TlsEngine::onSession (or getSession()) of an
  // earlier connection: the client offers to resume it (TlsEngine::isSessionReused() tells if the
  // server did). Overridden per connection by TlsEngine::setSession().
  std::string session;

  // --- Client: server identity ---
  // Node's checkServerIdentity(hostname, cert): when set, replaces the default name check
  // (the transport::checkServerIdentity() below). Called once the chain verified, with the
  // servername (without brackets; may be empty) and the server's certificate; a non-OK result
  // fails the handshake (kUnauthenticated, its message included) if rejectUnauthorized, else the
  // handshake completes and verifyResult()/authorizationError() report it.
  std::function<absl::Status(const std::string& hostname, const PeerCertificate& cert)>
      checkServerIdentity;
};

// Node's tls.checkServerIdentity(hostname, cert): OkStatus if `cert` is valid for `hostname` (a
// DNS name, wildcards only as a whole left-most label, or an IP address, brackets allowed) by
// its subjectAltName; else kUnauthenticated whose message starts with Node's code
// "ERR_TLS_CERT_ALTNAME_INVALID: " and Node's text.
absl::Status checkServerIdentity(std::string_view hostname, const PeerCertificate& cert);

// An SSL_CTX configured from TlsOptions. Immutable after creation; share it between connections.
class TlsContext {
 public:
  // Errors (never a crash): kNotFound for a file that cannot be read (with the path and errno
  // text), kInvalidArgument for bad PEM, a private key that does not match the certificate, a
  // server without certificate or key, a bad version string or ALPN name. Each message names the
  // option at fault and includes OpenSSL's error string when OpenSSL had one.
  static absl::StatusOr<std::shared_ptr<TlsContext>> createServer(const TlsOptions& options);
  static absl::StatusOr<std::shared_ptr<TlsContext>> createClient(const TlsOptions& options);

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ~TlsContext();

  bool isServer() const { return is_server_; }
  const TlsOptions& options() const { return options_; }
  ssl_ctx_st* native() const { return ctx_; }

 private:
  friend class TlsEngine;
  TlsContext(bool is_server, TlsOptions options) : is_server_(is_server), options_(std::move(options)) {}
  static absl::StatusOr<std::shared_ptr<TlsContext>> create(bool is_server, const TlsOptions& options);
  static int clientHello(ssl_st* ssl, int* alert, void* arg);
  static int verifyPeer(int preverify_ok, x509_store_ctx_st* store);
  static int newSession(ssl_st* ssl, ssl_session_st* session);
  static int selectAlpn(ssl_st* ssl, const unsigned char** out, unsigned char* outlen,
                        const unsigned char* in, unsigned int inlen, void* arg);

  const bool is_server_;
  const TlsOptions options_;
  ssl_ctx_st* ctx_ = nullptr;
  std::string alpn_wire_;  // ALPNProtocols in wire format (length-prefixed names)
  std::string session_;    // options_.session, checked
};

// One connection's TLS state machine. See the top of this file for how to drive it.
class TlsEngine {
 public:
  // The largest string_view onPlaintext() receives (one TLS record's worth).
  static constexpr size_t kMaxPlaintextChunk = 16384;

  // nullptr if `context` is null, was made for the other role (context->isServer() != isServer),
  // or OpenSSL is out of memory.
  static std::unique_ptr<TlsEngine> create(std::shared_ptr<TlsContext> context, bool isServer);

  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;
  ~TlsEngine();

  // --- Callbacks (set before start()) ---
  // Decrypted application data, in order, as it is read. The view is valid during the call only.
  std::function<void(std::string_view)> onPlaintext;
  // The handshake completed (once). alpnProtocol(), protocolVersion() etc. are now set.
  std::function<void()> onHandshakeDone;
  // Ciphertext to send to the peer (see the top of this file). Unset: use takeCiphertext().
  std::function<void(std::string)> onCiphertext;
  // The peer sent close_notify: no more plaintext will come (Node's 'end').
  std::function<void()> onCloseNotify;
  // Client: Node's 'session' event: a session the server issued (TLS 1.3: a ticket, which may
  // come after the handshake), serialized; give it to TlsOptions::session or setSession() of a
  // later connection to resume. May be called more than once.
  std::function<void(std::string)> onSession;
  // Server: an SNICallback answered after its call returned: the handshake can go on. Call
  // resume() (e.g. on the next loop turn; TlsSocket does). Unset: the answer calls resume()
  // itself, and its errors are seen by the next call into the engine.
  std::function<void()> onResume;

  // Client only, before start(): the SNI / expected name of this connection (see
  // TlsOptions::servername), instead of the context's.
  absl::Status setServername(std::string servername);

  // Client only, before start(): the session to resume (see TlsOptions::session), instead of
  // the context's. kInvalidArgument if it is not a serialized session.
  absl::Status setSession(std::string session);

  // Client: queues the ClientHello. Server: nothing to send yet. Idempotent; feedCiphertext() and
  // writePlaintext() call it if the caller did not.
  absl::Status start();
  // Bytes read from the socket. Consumes all of them; see the top of this file.
  absl::Status feedCiphertext(std::string_view bytes);
  // Application data to encrypt; buffered until the handshake is done. kFailedPrecondition after
  // shutdown().
  absl::Status writePlaintext(std::string_view bytes);
  // Everything not yet handed out by onCiphertext (empty when that callback is set).
  std::string takeCiphertext();
  size_t pendingCiphertextBytes() const;
  // Goes on with a handshake that waited for an SNICallback answer (see onResume); a no-op
  // otherwise. Returns error() (the answer's error if it was one).
  absl::Status resume();
  // Sends close_notify (once). Before the handshake is done it is sent after the handshake and the
  // data buffered until then. Never fails; an error is reported by the call that meets it.
  void shutdown();

  // --- State ---
  bool isServer() const { return is_server_; }
  const std::shared_ptr<TlsContext>& context() const { return context_; }
  bool handshakeDone() const { return handshake_done_; }
  // The first error met (OkStatus while the engine is healthy).
  absl::Status error() const { return error_; }
  // The negotiated ALPN protocol, "" if none (or before the handshake is done).
  std::string alpnProtocol() const;
  // Server: the protocols the client offered in its ALPN extension (empty: it sent none).
  const std::vector<std::string>& clientAlpnProtocols() const { return client_alpn_; }
  // "TLSv1.2" / "TLSv1.3"; "" before the handshake is done.
  std::string protocolVersion() const;
  // OpenSSL's name of the cipher suite, e.g. "TLS_AES_256_GCM_SHA384"; "" before the handshake.
  std::string cipherName() const;
  // Server: the SNI name the client sent ("" if none). Client: the name it sent/checks.
  std::string servername() const;
  // The result of verifying the peer's certificate (Node's socket.authorized /
  // authorizationError): OkStatus if the peer presented a certificate that verified (chain and,
  // on a client, name); otherwise kUnauthenticated with the reason (also when rejectUnauthorized
  // was false and the handshake completed anyway), or kFailedPrecondition before the handshake.
  absl::Status verifyResult() const;
  // Node's tlsSocket.getPeerCertificate(): the certificate the peer presented, verified or not
  // (nullopt when it presented none, or before the handshake; Node returns {}).
  std::optional<PeerCertificate> peerCertificate() const;
  // Node's tlsSocket.authorized: verifyResult().ok().
  bool authorized() const { return verifyResult().ok(); }
  // Node's tlsSocket.authorizationError: "" when authorized, else OpenSSL's verification error
  // named as Node names it ("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "CERT_HAS_EXPIRED"...;
  // "UNABLE_TO_GET_ISSUER_CERT" when the peer sent no certificate; "ERR_TLS_CERT_ALTNAME_INVALID"
  // for a name mismatch).
  std::string authorizationError() const;
  // Node's tlsSocket.isSessionReused(): the handshake resumed a session.
  bool isSessionReused() const;
  // Node's tlsSocket.getSession(): this connection's session, serialized ("" before the
  // handshake or when OpenSSL has none; TLS 1.3 clients: the latest ticket received).
  std::string getSession() const;
  // Whether the peer's close_notify was received / ours was sent.
  bool peerCloseNotify() const { return peer_close_notify_; }
  bool closeNotifySent() const { return close_notify_sent_; }

  ssl_st* native() const { return ssl_; }

 private:
  friend class TlsContext;
  friend struct TlsEngineBio;  // reads in_, writes output_ (tls.cc)
  TlsEngine(std::shared_ptr<TlsContext> context, bool is_server);

  // Marks the engine started; on a client, applies the servername (SNI, name to verify).
  absl::Status begin();
  // The handshake, then the read loop delivering plaintext. Returns false if a callback destroyed
  // the engine (the caller must return without touching it).
  bool process();
  // SSL_write of `data`; returns how much OpenSSL took (all, unless it wants to read first).
  size_t writeNow(std::string_view data);
  // Writes the plaintext buffered before the handshake, then a requested close_notify.
  void writePending();
  void sendCloseNotify();
  // Hands output_ to onCiphertext if set. Returns false if the engine was destroyed by it.
  bool flushOutput();
  // Records in error_ the failure of an OpenSSL call that returned `ret`.
  void fail(int ret, std::string_view what);
  void appendServername(std::string* message) const;
  // The SNICallback's answer arrived.
  void onSniAnswer(absl::Status status, std::shared_ptr<TlsContext> context);
  // process() then flushOutput(); returns error_ (OkStatus if a callback destroyed the engine).
  absl::Status run();

  std::shared_ptr<TlsContext> context_;
  const bool is_server_;
  ssl_st* ssl_ = nullptr;
  std::string servername_;
  std::string output_;             // ciphertext OpenSSL wrote (TlsEngineBio), not yet handed out
  std::string_view in_;            // ciphertext OpenSSL may read: the fed bytes, or unread_
  std::string unread_;             // what OpenSSL left unread at the end of a feedCiphertext()
  std::string pending_plaintext_;  // written before the handshake was done
  std::string reentrant_input_;    // fed from a callback during feedCiphertext()
  std::vector<std::string> client_alpn_;
  std::string session_;  // client: to resume (setSession or the context's)
  // SNICallback state (server): asked, answered, and the answer.
  bool sni_asked_ = false;
  bool sni_answered_ = false;
  bool in_client_hello_ = false;
  absl::Status sni_status_;
  std::shared_ptr<TlsContext> sni_context_;
  // checkServerIdentity's verdict (client, with the hook): non-OK when it refused the name.
  absl::Status identity_error_;
  absl::Status error_;
  bool started_ = false;
  bool feeding_ = false;
  bool handshake_done_ = false;
  bool shutdown_requested_ = false;
  bool close_notify_sent_ = false;
  bool peer_close_notify_ = false;
  // Set to false by the destructor: lets a method notice that a callback destroyed the engine.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_TLS_H_
