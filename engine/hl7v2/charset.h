// Character sets named by MSH-18, and the conversions Courier applies when it
// decodes a value. Decoded values are always UTF-8 for ASCII, ISO 8859/1 and
// UNICODE UTF-8 messages; bytes of any other character set are passed through
// unchanged (never dropped).
#pragma once

#include <string>
#include <string_view>

#include "engine/core/result.h"

namespace courier::hl7v2 {

enum class Charset {
  kAscii,   // MSH-18 empty or "ASCII" (HL7's default); bytes > 0x7F are kept as they are
  kLatin1,  // "8859/1"
  kUtf8,    // "UNICODE UTF-8" (and "UNICODE" treated as UTF-8)
  kOther,   // any other value: bytes kept unchanged
};

// Maps the first repetition of MSH-18 to a Charset.
Charset charsetFromName(std::string_view msh18);

// Appends `in` (ISO 8859-1 bytes) to `out` as UTF-8.
void appendLatin1AsUtf8(std::string_view in, std::string& out);

// Appends UTF-8 `in` to `out` as ISO 8859-1; a code point above U+00FF or a
// malformed sequence is an error (kInvalidArgument), so nothing is silently lost.
Result<void> appendUtf8AsLatin1(std::string_view in, std::string& out);

}  // namespace courier::hl7v2
