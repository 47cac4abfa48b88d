// TLS contexts shared by every adapter (MLLP, HTTP): OpenSSL through Boost.Asio's
// ssl::context. Contexts and peer names only; no sockets here.
//
// Servers and clients speak TLS 1.2 and 1.3 only; TLS 1.2 is limited to ECDHE with
// AES-GCM or ChaCha20-Poly1305 (forward secrecy, AEAD). Errors name files and
// OpenSSL's reason, never key material.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "engine/config/config.h"
#include "engine/core/result.h"

namespace courier::tls {

enum class TlsVersion { kDefault, kTls11, kTls12, kTls13 };

// Client side. Tests use the version knobs to offer an old protocol on purpose.
struct ClientTlsOptions {
  std::filesystem::path ca_file;    // verifies the server; empty: system default paths
  std::filesystem::path cert_file;  // client certificate (mutual TLS); empty: none
  std::filesystem::path key_file;
  bool verify_server = true;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kDefault;
};

using SslContextPtr = std::shared_ptr<boost::asio::ssl::context>;

[[nodiscard]] Result<SslContextPtr> makeServerTlsContext(const config::TlsConfig& tls);
[[nodiscard]] Result<SslContextPtr> makeClientTlsContext(const ClientTlsOptions& options);

// Client side for outbound destinations (config `destinations[].tls`): always verifies the
// server, trusting the system CA store (when use_system_cas) plus every ca_files entry; a
// client certificate when cert_file is set. TLS 1.2 minimum. The caller checks the host
// name per connection (server_name or the host). Errors: kConfig naming the file, or
// "no CA to verify the server with" when neither source is given.
[[nodiscard]] Result<SslContextPtr> makeDestinationTlsContext(const config::ClientTlsConfig& tls);

// The names a peer certificate carries: subject CN first, then DNS, URI and e-mail SANs.
// Empty when the peer sent no certificate. Call only after a successful handshake
// (with verification on, the certificate chains to the configured CA).
std::vector<std::string> peerCertificateNames(SSL* ssl);

}  // namespace courier::tls
