#include "engine/hl7v2/header.h"

#include <cctype>

#include "engine/hl7v2/message.h"

namespace courier::hl7v2 {
namespace {

std::string_view partOf(std::string_view s, char delim, int n) {
  for (int i = 1; i < n; ++i) {
    size_t at = s.find(delim);
    if (at == std::string_view::npos) return {};
    s.remove_prefix(at + 1);
  }
  size_t at = s.find(delim);
  return at == std::string_view::npos ? s : s.substr(0, at);
}

// Fills a header from the MSH fields; `field(n)` returns raw MSH-n.
template <typename FieldFn>
MessageHeader fill(const Delimiters& d, FieldFn field) {
  MessageHeader h;
  h.delimiters = d;
  h.sending_application = std::string(field(3));
  h.sending_facility = std::string(field(4));
  h.receiving_application = std::string(field(5));
  h.receiving_facility = std::string(field(6));
  std::string_view type = partOf(field(9), d.repetition, 1);
  h.message_type = std::string(partOf(type, d.component, 1));
  h.trigger_event = std::string(partOf(type, d.component, 2));
  h.message_structure = std::string(partOf(type, d.component, 3));
  h.control_id = std::string(field(10));
  h.processing_id = std::string(field(11));
  h.version = std::string(partOf(partOf(field(12), d.repetition, 1), d.component, 1));
  h.accept_ack_type = std::string(field(15));
  h.application_ack_type = std::string(field(16));
  h.charset = std::string(partOf(field(18), d.repetition, 1));
  return h;
}

bool knownVersion(std::string_view v) {
  // 2.1 … 2.9, with optional further parts (2.3.1, 2.5.1, 2.8.2).
  if (v.size() < 3 || v[0] != '2' || v[1] != '.' || v[2] < '1' || v[2] > '9') return false;
  if (v.size() == 3) return true;
  if (v[3] != '.' || v.size() == 4) return false;
  for (char c : v.substr(4))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') return false;
  return true;
}

ParseError missing(int field, int component, const char* what) {
  ParseError e;
  e.condition = ErrorCondition::kRequiredFieldMissing;
  e.message = what;
  e.location.segment = "MSH";
  e.location.segment_seq = 1;
  e.location.field = field;
  e.location.component = component;
  return e;
}

}  // namespace

MessageHeader MessageHeader::fromMessage(const Message& msg) {
  auto msh = msg.segment(0);
  return fill(msg.delimiters(), [&](int n) { return msh.field(n); });
}

namespace {

// The first MSH line of `bytes` (a segment start: the beginning, after a terminator or a
// BOM), without its terminator; empty when there is none.
std::string_view firstMshLine(std::string_view bytes) {
  size_t at = 0;
  while (true) {
    at = bytes.find("MSH", at);
    if (at == std::string_view::npos) return {};
    if (at == 0 || bytes[at - 1] == '\r' || bytes[at - 1] == '\n' || bytes[at - 1] == 0x0b ||
        (at == 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF"))
      break;
    at += 3;
  }
  std::string_view line = bytes.substr(at);
  size_t end = line.find_first_of("\r\n");
  return end == std::string_view::npos ? line : line.substr(0, end);
}

}  // namespace

MessageHeader MessageHeader::salvage(std::string_view bytes) {
  const std::string_view line = firstMshLine(bytes);
  if (line.empty()) return MessageHeader{};
  if (auto parsed = Message::parse(line)) return fromMessage(*parsed);
  // The MSH itself is malformed: split on the default field separator.
  Delimiters d;
  return fill(d, [&](int n) -> std::string_view {
    if (n < 2) return {};
    return partOf(line, d.field, n);
  });
}

std::optional<std::string_view> MessageHeader::rawField(std::string_view bytes, int n) {
  const std::string_view line = firstMshLine(bytes);
  if (line.empty()) return std::nullopt;
  if (line.size() < 4) return std::string_view();
  const unsigned char c = static_cast<unsigned char>(line[3]);
  const bool separator = c > ' ' && c < 0x7f && !std::isalnum(c);
  return partOf(line, separator ? line[3] : Delimiters{}.field, n);
}

Result<void, ParseError> validateHeader(const MessageHeader& h) {
  if (h.message_type.empty()) return Unexpected(missing(9, 1, "MSH-9 (message type) is empty"));
  if (h.trigger_event.empty() && !h.isAck()) return Unexpected(missing(9, 2, "MSH-9.2 (trigger event) is empty"));
  if (h.control_id.empty()) return Unexpected(missing(10, 0, "MSH-10 (message control id) is empty"));
  if (h.processing_id.empty()) return Unexpected(missing(11, 0, "MSH-11 (processing id) is empty"));
  if (h.version.empty()) return Unexpected(missing(12, 0, "MSH-12 (version id) is empty"));
  if (!knownVersion(h.version)) {
    ParseError e = missing(12, 0, "MSH-12 names an HL7 version Courier does not read (2.1 to 2.9 are read)");
    e.condition = ErrorCondition::kUnsupportedVersion;
    return Unexpected(std::move(e));
  }
  return {};
}

}  // namespace courier::hl7v2
