#include "adapters/mllp/ack_mapping.h"

#include "engine/hl7v2/header.h"
#include "engine/hl7v2/message.h"

namespace courier::mllp {

namespace {

using delivery::DeliveryStatus;

constexpr std::size_t kMaxDetailText = 200;

// One printable line: the detail is shown to operators in lists.
std::string oneLine(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, kMaxDetailText)) out += (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
  return out;
}

DeliveryStatus statusOf(config::NakAction action) {
  return action == config::NakAction::kDeadLetter ? DeliveryStatus::kDeadLetter : DeliveryStatus::kRetry;
}

// "ERR 207 Application internal error": code and text from the ERR segment of any version,
// else MSA-3 (text message, withdrawn in 2.5 but still sent).
std::string errText(const hl7v2::Message& ack) {
  std::string code = ack.get("ERR-3.1");
  std::string text = ack.get("ERR-8");
  if (text.empty()) text = ack.get("ERR-3.2");
  if (code.empty()) code = ack.get("ERR-1.4.1");
  if (text.empty()) text = ack.get("ERR-1.4.2");
  if (text.empty()) text = ack.get("MSA-3");
  std::string out;
  if (!code.empty()) out += "ERR " + code;
  if (!text.empty()) {
    if (!out.empty()) out += ' ';
    out += text;
  }
  return oneLine(out);
}

}  // namespace

std::string controlIdOf(std::string_view message) {
  return std::string(hl7v2::MessageHeader::salvageControlId(message));
}

AckOutcome mapAck(std::string_view sent_control_id, std::string_view ack, config::NakAction on_ae,
                  config::NakAction on_ar) {
  auto msg = hl7v2::Message::parse(ack);
  if (!msg) return {DeliveryStatus::kRetry, "unreadable answer: " + oneLine(msg.error().message), true};
  if (!msg->findSegment("MSA")) return {DeliveryStatus::kRetry, "answer without an MSA segment", true};
  if (msg->get("MSA-2") != sent_control_id) {
    return {DeliveryStatus::kRetry, "ACK for another message (MSA-2 does not match the MSH-10 sent)", true};
  }
  const std::string code = msg->get("MSA-1");
  if (code == "AA" || code == "CA") return {DeliveryStatus::kDelivered, code, false};
  DeliveryStatus status;
  if (code == "AE" || code == "CE") {
    status = statusOf(on_ae);
  } else if (code == "AR" || code == "CR") {
    status = statusOf(on_ar);
  } else {
    return {DeliveryStatus::kRetry, "ACK with unknown MSA-1 '" + oneLine(code.substr(0, 8)) + "'", false};
  }
  std::string detail = code;
  if (std::string err = errText(*msg); !err.empty()) detail += ": " + err;
  return {status, std::move(detail), false};
}

}  // namespace courier::mllp
