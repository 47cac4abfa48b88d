#include "engine/hl7v2/parse_error.h"

namespace courier::hl7v2 {

const char* conditionText(ErrorCondition condition) {
  switch (condition) {
    case ErrorCondition::kSuccess: return "Message accepted";
    case ErrorCondition::kSegmentSequence: return "Segment sequence error";
    case ErrorCondition::kRequiredFieldMissing: return "Required field missing";
    case ErrorCondition::kDataType: return "Data type error";
    case ErrorCondition::kTableValueNotFound: return "Table value not found";
    case ErrorCondition::kValueTooLong: return "Value too long";
    case ErrorCondition::kUnsupportedMessageType: return "Unsupported message type";
    case ErrorCondition::kUnsupportedEventCode: return "Unsupported event code";
    case ErrorCondition::kUnsupportedProcessingId: return "Unsupported processing id";
    case ErrorCondition::kUnsupportedVersion: return "Unsupported version id";
    case ErrorCondition::kUnknownKey: return "Unknown key identifier";
    case ErrorCondition::kDuplicateKey: return "Duplicate key identifier";
    case ErrorCondition::kApplicationRecordLocked: return "Application record locked";
    case ErrorCondition::kApplicationError: return "Application internal error";
  }
  return "Application internal error";
}

std::string ErrorLocation::toPath() const {
  if (segment.empty()) return {};
  std::string out = segment;
  auto number = [&out](char lead, int n, char trail) {
    out += lead;
    out += std::to_string(n);
    if (trail) out += trail;
  };
  if (segment_seq > 1) number('[', segment_seq, ']');
  if (field > 0) {
    number('-', field, 0);
    if (repetition > 1) number('[', repetition, ']');
    if (component > 0) number('.', component, 0);
    if (subcomponent > 0) number('.', subcomponent, 0);
  }
  return out;
}

courier::Error ParseError::toError() const {
  return courier::Error(ErrorCode::kParse,
                        std::to_string(static_cast<int>(condition)) + " " + conditionText(condition) +
                            ": " + message,
                        location.toPath());
}

}  // namespace courier::hl7v2
