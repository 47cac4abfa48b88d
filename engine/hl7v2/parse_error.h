// ParseError: why a message could not be read, in the terms an ACK needs.
//
// It carries the HL7 error condition (table 0357), a PHI-free sentence, and the
// location (segment, sequence, field, repetition, component, sub-component),
// which become ERR-3, ERR-8/MSA-3 and ERR-2 of the negative acknowledgement.
#pragma once

#include <string>

#include "engine/core/error.h"

namespace courier::hl7v2 {

// HL7 table 0357, message error condition codes.
enum class ErrorCondition : int {
  kSuccess = 0,
  kSegmentSequence = 100,
  kRequiredFieldMissing = 101,
  kDataType = 102,
  kTableValueNotFound = 103,
  kValueTooLong = 104,
  kUnsupportedMessageType = 200,
  kUnsupportedEventCode = 201,
  kUnsupportedProcessingId = 202,
  kUnsupportedVersion = 203,
  kUnknownKey = 204,
  kDuplicateKey = 205,
  kApplicationRecordLocked = 206,
  kApplicationError = 207,
};

// The HL7 text of a table 0357 code ("Segment sequence error", ...).
const char* conditionText(ErrorCondition condition);

// Where an error is. Numbers are 1-based; 0 means "not applicable".
struct ErrorLocation {
  std::string segment;  // "PID"; empty when the error is about the whole message
  int segment_seq = 0;  // 1 = first segment of that name in the message
  int field = 0;
  int repetition = 0;
  int component = 0;
  int subcomponent = 0;

  // "PID[1]-3[1].1" style, for messages and logs; empty when no segment.
  std::string toPath() const;
};

struct ParseError {
  ErrorCondition condition = ErrorCondition::kApplicationError;
  std::string message;  // PHI-free: says what is wrong, never quotes the data
  ErrorLocation location;

  courier::Error toError() const;
};

}  // namespace courier::hl7v2
