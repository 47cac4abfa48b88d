// Path: a compiled address of a value in an HL7 v2 message.
//
//   PID-5          first repetition of PID-5 (whole repetition, components included)
//   PID-5.1        its first component
//   PID-3[2].1     component 1 of the second repetition of PID-3
//   OBX[3]-5       field 5 of the third OBX segment (segments counted in message order)
//   PID-11.1.2     sub-component 2 of component 1
//
// `(n)` is accepted as well as `[n]`; numbers are 1-based. Parsing a path is done
// once; reading through a compiled path allocates nothing.
#pragma once

#include <string>
#include <string_view>

#include "engine/core/result.h"

namespace courier::hl7v2 {

struct Path {
  char segment[4] = {0, 0, 0, 0};  // segment id, NUL-terminated (3 characters)
  int segment_rep = 1;             // which occurrence of the segment, 1-based
  int field = 0;                   // 1-based; MSH-1 is the field separator itself
  int repetition = 1;              // 1-based
  int component = 0;               // 0 = the whole repetition
  int subcomponent = 0;            // 0 = the whole component

  std::string_view segmentId() const { return std::string_view(segment, 3); }

  // Errors (kInvalidArgument) name the offending character position.
  static Result<Path> parse(std::string_view text);
  std::string toString() const;
};

}  // namespace courier::hl7v2
