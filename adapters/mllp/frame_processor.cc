#include "adapters/mllp/frame_processor.h"

#include <algorithm>

#include "adapters/mllp/framer.h"
#include "engine/hl7v2/message.h"
#include "engine/hl7v2/path.h"

namespace courier::mllp {

namespace {

using hl7v2::AckError;
using hl7v2::AckOutcome;
using hl7v2::ErrorCondition;

// Unsupported type, event, processing id or version will never be accepted as sent (AR);
// other parse errors are errors in this message (AE).
AckOutcome outcomeFor(ErrorCondition c) {
  switch (c) {
    case ErrorCondition::kUnsupportedMessageType:
    case ErrorCondition::kUnsupportedEventCode:
    case ErrorCondition::kUnsupportedProcessingId:
    case ErrorCondition::kUnsupportedVersion:
      return AckOutcome::kReject;
    default:
      return AckOutcome::kError;
  }
}

AckOutcome outcomeForStored(store::AckCode code) {
  switch (code) {
    case store::AckCode::kAA:
    case store::AckCode::kCA:
      return AckOutcome::kAccept;
    case store::AckCode::kAR:
    case store::AckCode::kCR:
      return AckOutcome::kReject;
    default:
      return AckOutcome::kError;
  }
}

const hl7v2::Path& patientIdPath() {
  static const hl7v2::Path path = hl7v2::Path::parse("PID-3.1").value();
  return path;
}

hl7v2::ErrorLocation mshField(int field) {
  hl7v2::ErrorLocation loc;
  loc.segment = "MSH";
  loc.segment_seq = 1;
  loc.field = field;
  return loc;
}

}  // namespace

FrameProcessor::FrameProcessor(const config::ListenerConfig& listener, const hl7v2::AckBuilder& acks,
                               Clock& clock)
    : listener_(listener), acks_(acks), clock_(clock) {}

Result<Peer> FrameProcessor::resolvePeer(const std::vector<std::string>& names) const {
  Peer peer;
  if (listener_.allowed_clients.empty()) {
    if (!names.empty()) peer.identity = names.front();
    return peer;
  }
  for (const auto& name : names) {
    for (const auto& client : listener_.allowed_clients) {
      if (client.identity == name) {
        peer.identity = name;
        const bool any = std::find(client.sending_facilities.begin(), client.sending_facilities.end(), "*") !=
                         client.sending_facilities.end();
        peer.facilities = any ? nullptr : &client.sending_facilities;
        return peer;
      }
    }
  }
  return Unexpected(Error(ErrorCode::kForbidden,
                          names.empty() ? "an anonymous client is not allowed on this listener"
                                        : "the client certificate names no allowed identity"));
}

void FrameProcessor::applyPolicy(hl7v2::MessageHeader& header) const {
  switch (listener_.ack.policy) {
    case config::AckPolicy::kAuto:
      break;
    case config::AckPolicy::kOriginal:
      header.accept_ack_type.clear();
      header.application_ack_type.clear();
      break;
    case config::AckPolicy::kEnhanced:
      if (!header.enhancedMode()) header.accept_ack_type = "AL";
      break;
  }
}

std::optional<std::string> FrameProcessor::answer(const hl7v2::MessageHeader& header, AckOutcome outcome,
                                                  const std::vector<AckError>& errors) const {
  if (listener_.ack.mllp_commit_acks) {
    return std::string(1, outcome == AckOutcome::kAccept ? kCommitAck : kCommitNak);
  }
  return acks_.build(header, outcome, errors);
}

FrameDecision FrameProcessor::onFrame(std::string payload, const Peer& peer) const {
  FrameDecision d;
  auto parsed = hl7v2::Message::parse(payload);
  if (!parsed) {
    d.header = hl7v2::MessageHeader::salvage(payload);
    applyPolicy(d.header);
    const auto& e = parsed.error();
    d.reason = "parse-error";
    d.refusal = "parse error "+ std::to_string(static_cast<int>(e.condition)) + " at " + e.location.toPath();
    d.answer = answer(d.header, outcomeFor(e.condition), {AckError::from(e)});
    return d;
  }
  const hl7v2::Message& msg = *parsed;
  d.header = hl7v2::MessageHeader::fromMessage(msg);
  applyPolicy(d.header);
  if (auto valid = hl7v2::validateHeader(d.header); !valid) {
    const auto& e = valid.error();
    d.reason = "header-error";
    d.refusal = "header error "+ std::to_string(static_cast<int>(e.condition)) + " at " + e.location.toPath();
    d.answer = answer(d.header, outcomeFor(e.condition), {AckError::from(e)});
    return d;
  }
  if (peer.facilities != nullptr &&
      std::find(peer.facilities->begin(), peer.facilities->end(), d.header.sending_facility) ==
          peer.facilities->end()) {
    d.reason = "facility-not-allowed";
    d.refusal = "sending facility not allowed for this client";
    AckError err;
    err.condition = ErrorCondition::kApplicationError;
    err.message = "the sending facility (MSH-4) is not allowed for this client identity";
    err.location = mshField(4);
    d.answer = answer(d.header, AckOutcome::kReject, {err});
    return d;
  }

  store::InboundMessage in;
  in.listener = listener_.name;
  in.peer_identity = peer.identity;
  in.received_at = clock_.now();
  in.message_type = d.header.message_type;
  in.trigger = d.header.trigger_event;
  in.control_id = d.header.control_id;
  in.sending_application = d.header.sending_application;
  in.sending_facility = d.header.sending_facility;
  in.patient_id = msg.get(patientIdPath());
  in.ack_mode = d.header.enhancedMode() ? store::AckMode::kEnhanced : store::AckMode::kOriginal;
  parsed = Unexpected(hl7v2::ParseError{});  // drop the index before the bytes move
  in.raw = std::move(payload);
  d.message = std::move(in);
  return d;
}

FrameDecision FrameProcessor::onTooLarge(std::string_view prefix, std::size_t size) const {
  FrameDecision d;
  d.header = hl7v2::MessageHeader::salvage(prefix);
  applyPolicy(d.header);
  d.reason = "too-large";
  d.refusal = "frame of "+ std::to_string(size) + " bytes over the limit";
  AckError err;
  err.condition = ErrorCondition::kApplicationError;
  err.message = "the message is larger than this listener accepts (" +
                std::to_string(listener_.limits.max_frame_bytes) + " bytes)";
  d.answer = answer(d.header, AckOutcome::kReject, {err});
  return d;
}

std::optional<std::string> FrameProcessor::answerFor(const hl7v2::MessageHeader& header,
                                                     const Result<store::StoreReceipt>& result) const {
  if (!result) {
    AckError err;
    err.condition = ErrorCondition::kApplicationError;
    err.message = "the message could not be stored; send it again later";
    return answer(header, AckOutcome::kError, {err});
  }
  if (result->duplicate) return answer(header, outcomeForStored(result->previous_ack), {});
  return answer(header, AckOutcome::kAccept, {});
}

}  // namespace courier::mllp
