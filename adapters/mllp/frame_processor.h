// FrameProcessor: what one MLLP listener does with one frame, without any I/O.
//
//   frame ──► parse (engine/hl7v2) ──► malformed ─────────────► AE/AR + ERR (answer now)
//                                  ──► MSH-4 not allowed ─────► AR + ERR   (answer now)
//                                  ──► valid ──► InboundMessage to MessageStore::submit
//   store result ──► answerFor() ──► AA/CA (stored or duplicate of a stored one)
//                                ──► AE/CE + ERR 207 (storage failed; retry later)
//
// With MLLP release 2 commit acknowledgements (ack.mllp_commit_acks) every answer is the
// one-byte commit ACK (0x06) or NAK (0x15) instead of an HL7 ACK.
//
// The connection owns the sockets, the ordering of answers and the durability rule (an
// answer is sent only once answerFor() was called with the store's result); this class
// owns the business-free decisions above, so they are unit-testable.
//
// Thread-safety: const methods may be called from several threads at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config.h"
#include "engine/core/clock.h"
#include "engine/core/result.h"
#include "engine/hl7v2/ack_builder.h"
#include "engine/hl7v2/header.h"
#include "engine/store/message_store.h"

namespace courier::mllp {

// Who is on the other end of a connection, decided once after the TLS handshake.
struct Peer {
  std::string identity;                              // matched name; empty when anonymous
  const std::vector<std::string>* facilities = nullptr;  // allowed MSH-4 values; null: any
};

// What to do with one frame.
struct FrameDecision {
  // Set: submit it; the answer comes from answerFor(header, result).
  std::optional<store::InboundMessage> message;
  // The header the eventual answer is built from (acknowledgement mode already applied).
  hl7v2::MessageHeader header;
  // When no message is submitted: the answer payload to send now, or nullopt for none
  // (the frame was an ACK, or MSH-15 says not to answer).
  std::optional<std::string> answer;
  // For logs and metrics: why the frame was refused (empty when submitted), and the same
  // as a short label for /metrics ("parse-error", "header-error", "facility-not-allowed",
  // "too-large").
  std::string refusal;
  const char* reason = "";
};

class FrameProcessor {
 public:
  FrameProcessor(const config::ListenerConfig& listener, const hl7v2::AckBuilder& acks,
                 Clock& clock = Clock::system());

  // Decides who the peer is from the names in its certificate (subject CN first, then
  // SANs). Error kForbidden when the listener has an allowed list and none of the names
  // is on it (an anonymous client included).
  Result<Peer> resolvePeer(const std::vector<std::string>& certificate_names) const;

  // One complete frame payload (moved into the InboundMessage when valid).
  FrameDecision onFrame(std::string payload, const Peer& peer) const;

  // A frame over max_frame_bytes: `prefix` is its beginning (for MSH-10), `size` its size.
  FrameDecision onTooLarge(std::string_view prefix, std::size_t size) const;

  // The answer once the store reported on a submitted message; nullopt: send nothing.
  std::optional<std::string> answerFor(const hl7v2::MessageHeader& header,
                                       const Result<store::StoreReceipt>& result) const;

  const config::ListenerConfig& listener() const { return listener_; }

 private:
  std::optional<std::string> answer(const hl7v2::MessageHeader& header, hl7v2::AckOutcome outcome,
                                    const std::vector<hl7v2::AckError>& errors) const;
  void applyPolicy(hl7v2::MessageHeader& header) const;

  const config::ListenerConfig& listener_;
  const hl7v2::AckBuilder& acks_;
  Clock& clock_;
};

}  // namespace courier::mllp
