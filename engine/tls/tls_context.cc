#include "engine/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace courier::tls {

namespace ssl = boost::asio::ssl;

namespace {

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

int opensslVersion(TlsVersion v) {
  switch (v) {
    case TlsVersion::kTls11: return TLS1_1_VERSION;
    case TlsVersion::kTls12: return TLS1_2_VERSION;
    case TlsVersion::kTls13: return TLS1_3_VERSION;
    case TlsVersion::kDefault: break;
  }
  return 0;
}

Error tlsError(std::string what, const boost::system::error_code& ec) {
  return Error(ErrorCode::kConfig, std::move(what) + ": " + ec.message());
}

}  // namespace

Result<SslContextPtr> makeServerTlsContext(const config::TlsConfig& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                   ec);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return Unexpected(Error(ErrorCode::kConfig, "TLS: the cipher list was refused by OpenSSL"));
  }
  ctx->use_certificate_chain_file(tls.cert_file.string(), ec);
  if (ec) return Unexpected(tlsError("TLS certificate " + tls.cert_file.string(), ec));
  ctx->use_private_key_file(tls.key_file.string(), ssl::context::pem, ec);
  if (ec) return Unexpected(tlsError("TLS key " + tls.key_file.string(), ec));
  if (SSL_CTX_check_private_key(native) != 1) {
    return Unexpected(Error(ErrorCode::kConfig, "TLS key " + tls.key_file.string() +
                                                    " does not match certificate " + tls.cert_file.string()));
  }
  if (tls.client_certs != config::ClientCertMode::kNone) {
    ctx->load_verify_file(tls.ca_file.string(), ec);
    if (ec) return Unexpected(tlsError("TLS CA file " + tls.ca_file.string(), ec));
    // Tell clients which CA we accept, so they pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
    ssl::verify_mode mode = ssl::verify_peer;
    if (tls.client_certs == config::ClientCertMode::kRequired) mode |= ssl::verify_fail_if_no_peer_cert;
    ctx->set_verify_mode(mode, ec);
  } else {
    ctx->set_verify_mode(ssl::verify_none, ec);
  }
  if (ec) return Unexpected(tlsError("TLS verify mode", ec));
  // Session ids only within this process; no tickets (no ticket key to rotate).
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
  static const unsigned char kSessionId[] = "courier";
  SSL_CTX_set_session_id_context(native, kSessionId, sizeof(kSessionId) - 1);
  return ctx;
}

Result<SslContextPtr> makeClientTlsContext(const ClientTlsOptions& o) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  SSL_CTX* native = ctx->native_handle();
  if (int v = opensslVersion(o.min_version)) SSL_CTX_set_min_proto_version(native, v);
  if (int v = opensslVersion(o.max_version)) SSL_CTX_set_max_proto_version(native, v);
  if (o.max_version == TlsVersion::kTls11 || o.min_version == TlsVersion::kTls11) {
    // OpenSSL 3 refuses TLS 1.1 at its default security level; a test that offers it
    // on purpose must lower the level so that the offer actually goes on the wire.
    SSL_CTX_set_security_level(native, 0);
    SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0");
  }
  if (o.verify_server) {
    if (o.ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
    } else {
      ctx->load_verify_file(o.ca_file.string(), ec);
    }
    if (ec) return Unexpected(tlsError("TLS CA file " + o.ca_file.string(), ec));
    ctx->set_verify_mode(ssl::verify_peer, ec);
  } else {
    ctx->set_verify_mode(ssl::verify_none, ec);
  }
  if (!o.cert_file.empty()) {
    ctx->use_certificate_chain_file(o.cert_file.string(), ec);
    if (ec) return Unexpected(tlsError("TLS certificate " + o.cert_file.string(), ec));
    ctx->use_private_key_file((o.key_file.empty() ? o.cert_file : o.key_file).string(), ssl::context::pem, ec);
    if (ec) return Unexpected(tlsError("TLS key " + o.key_file.string(), ec));
  }
  return ctx;
}

Result<SslContextPtr> makeDestinationTlsContext(const config::ClientTlsConfig& tls) {
  if (!tls.use_system_cas && tls.ca_files.empty()) {
    return Unexpected(Error(ErrorCode::kConfig, "TLS: no CA to verify the server with (use_system_cas is off and "
                                                "ca_files is empty)"));
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  if (tls.use_system_cas) {
    ctx->set_default_verify_paths(ec);
    if (ec) return Unexpected(tlsError("TLS system CA store", ec));
  }
  for (const auto& ca : tls.ca_files) {
    ctx->load_verify_file(ca.string(), ec);
    if (ec) return Unexpected(tlsError("TLS CA file " + ca.string(), ec));
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return Unexpected(tlsError("TLS verify mode", ec));
  if (!tls.cert_file.empty()) {
    ctx->use_certificate_chain_file(tls.cert_file.string(), ec);
    if (ec) return Unexpected(tlsError("TLS certificate " + tls.cert_file.string(), ec));
    const auto& key = tls.key_file.empty() ? tls.cert_file : tls.key_file;
    ctx->use_private_key_file(key.string(), ssl::context::pem, ec);
    if (ec) return Unexpected(tlsError("TLS key " + key.string(), ec));
    if (SSL_CTX_check_private_key(native) != 1) {
      return Unexpected(Error(ErrorCode::kConfig, "TLS key " + key.string() + " does not match certificate " +
                                                      tls.cert_file.string()));
    }
  }
  return ctx;
}

std::vector<std::string> peerCertificateNames(SSL* ssl) {
  std::vector<std::string> names;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return names;
  if (X509_NAME* subject = X509_get_subject_name(cert)) {
    int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (idx >= 0) {
      ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
      unsigned char* utf8 = nullptr;
      int len = ASN1_STRING_to_UTF8(&utf8, data);
      if (len > 0) names.emplace_back(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
      OPENSSL_free(utf8);
    }
  }
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      const ASN1_IA5STRING* s = nullptr;
      if (gn->type == GEN_DNS) s = gn->d.dNSName;
      else if (gn->type == GEN_URI) s = gn->d.uniformResourceIdentifier;
      else if (gn->type == GEN_EMAIL) s = gn->d.rfc822Name;
      if (s != nullptr) {
        names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<std::size_t>(ASN1_STRING_length(s)));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  X509_free(cert);
  return names;
}

}  // namespace courier::tls
