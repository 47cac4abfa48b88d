// MllpSink: an outbound MLLP destination (`kind: mllp`), a delivery::Sink over one
// persistent mllp::Client connection (TLS per DestinationConfig::tls).
//
//   auto sink = mllp::makeMllpSink(destination);   // kConfig: bad host/port, TLS files
//   auto r = sink.value()->deliver(item);          // sends item.payload, waits for the ACK
//
// Each message waits for its ACK within response_timeout and is mapped by mapAck()
// (ack_mapping.h): AA/CA delivered; AE/CE, AR/CR through on_ae/on_ar; a mismatched
// MSA-2 retries and drops the connection. Refused connections, failed handshakes and
// timeouts are kRetry with the reason in `detail`; `response` keeps the ACK.
//
// deliverBatch() pipelines: it writes a window of frames (up to 512 messages or 1 MiB)
// in one write, then reads their ACKs in order, window after window. Results stop at the
// first item not delivered (Sink's contract); ACKs of the rest of that window are still
// read so the connection stays in step, and those items will be sent again by the
// deliverer (a receiver may see them twice, as MLLP's at-least-once allows).
//
// Connections: opened on first use, reused while healthy, dropped after any error and
// reopened by the next call, closed after keepalive_idle without use (IdleCloser).
// Threading: one deliverer thread calls it (Sink's contract).
#pragma once

#include <memory>

#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/delivery/sink.h"

namespace courier::mllp {

[[nodiscard]] Result<std::unique_ptr<delivery::Sink>> makeMllpSink(const config::DestinationConfig& destination);

}  // namespace courier::mllp
