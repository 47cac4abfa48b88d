// AckMapping: what an MLLP destination's answer means for delivery, sans-I/O.
//
//   auto outcome = mapAck(sent_control_id, ack_payload, config.on_ae, config.on_ar);
//
// MSA-1 AA/CA: delivered. AE/CE and AR/CR: retry or dead-letter as the destination says
// (NakAction), the detail naming the ERR code and text (ERR-3/ERR-8 from v2.5, ERR-1 before,
// else MSA-3). An ACK whose MSA-2 is not the control id sent (MSH-10), an answer that is not
// an ACK, or one that does not parse: retry, and the connection is out of step with the
// receiver, so drop_connection is set.
#pragma once

#include <string>
#include <string_view>

#include "engine/config/config.h"
#include "engine/delivery/sink.h"

namespace courier::mllp {

struct AckOutcome {
  delivery::DeliveryStatus status = delivery::DeliveryStatus::kRetry;
  std::string detail;            // "AA", "AE: ERR 207 Application internal error", ...
  bool drop_connection = false;  // the answer cannot be trusted to belong to this message
};

[[nodiscard]] AckOutcome mapAck(std::string_view sent_control_id, std::string_view ack, config::NakAction on_ae,
                                config::NakAction on_ar);

// MSH-10 of an outgoing message, read from its first MSH line (empty when there is none).
std::string controlIdOf(std::string_view message);

}  // namespace courier::mllp
