// MessageHeader: the MSH fields an acknowledgement and the store need, taken
// from a parsed Message or salvaged from bytes that did not parse (so that even
// a malformed message gets a proper negative ACK when its MSH is readable).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/core/result.h"
#include "engine/hl7v2/delimiters.h"
#include "engine/hl7v2/parse_error.h"

namespace courier::hl7v2 {

class Message;

struct MessageHeader {
  Delimiters delimiters;
  std::string sending_application;    // MSH-3 (raw, all components)
  std::string sending_facility;       // MSH-4
  std::string receiving_application;  // MSH-5
  std::string receiving_facility;     // MSH-6
  std::string message_type;           // MSH-9.1
  std::string trigger_event;          // MSH-9.2
  std::string message_structure;     // MSH-9.3
  std::string control_id;             // MSH-10
  std::string processing_id;          // MSH-11 (raw)
  std::string version;                // MSH-12.1
  std::string accept_ack_type;        // MSH-15: AL, NE, ER, SU or empty
  std::string application_ack_type;   // MSH-16
  std::string charset;                // MSH-18 (first repetition)

  static MessageHeader fromMessage(const Message& msg);
  // Best effort on bytes that may not parse: reads the first MSH line it finds.
  // Fields it cannot find stay empty; delimiters fall back to the defaults.
  static MessageHeader salvage(std::string_view bytes);
  // MSH-n (n >= 2, raw) of the first MSH line salvage() would find, split on the line's
  // own field separator (the default when MSH-1 is not a punctuation character), without
  // parsing the line or building a header: empty when the line ends before it, nullopt
  // when there is no MSH line. For a message that parses it is the field fromMessage()
  // reads. Once per message on hot paths: the pipeline's MSH-16 check, the MLLP client's
  // control id.
  static std::optional<std::string_view> rawField(std::string_view bytes, int n);
  // MSH-10 by rawField (empty without an MSH line): the MLLP client's match for an
  // ACK's MSA-2.
  static std::string_view salvageControlId(std::string_view bytes) {
    return rawField(bytes, 10).value_or(std::string_view());
  }

  // Enhanced acknowledgement mode: MSH-15 or MSH-16 is valued.
  bool enhancedMode() const { return !accept_ack_type.empty() || !application_ack_type.empty(); }
  bool isAck() const { return message_type == "ACK"; }
};

// Checks that the header carries what an engine needs to accept a message:
// MSH-9 (type and trigger, except for ACK), MSH-10, MSH-11, MSH-12, and a version
// Courier reads (2.1 to 2.9, with any further parts such as 2.5.1). Errors carry 101 (required field missing) or
// 203 (unsupported version) with the MSH location.
Result<void, ParseError> validateHeader(const MessageHeader& header);

}  // namespace courier::hl7v2
