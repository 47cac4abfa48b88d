// The MLLP adapter's names for the shared TLS setup, which lives in engine/tls (both
// adapters use it; adapters never include each other).
#pragma once

#include "engine/tls/tls_context.h"

namespace courier::mllp {

using tls::ClientTlsOptions;
using tls::makeClientTlsContext;
using tls::makeServerTlsContext;
using tls::peerCertificateNames;
using tls::SslContextPtr;
using tls::TlsVersion;

}  // namespace courier::mllp
