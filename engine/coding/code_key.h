// CodeKey: a code packed into 64 bits, so that lookups never allocate.
//
// Codes of every system here are 1..8 characters of [A-Z0-9]. They are stored
// without the dot, upper case, big-endian (first character in the top byte), so
// that numeric order of keys equals the lexicographic order of codes and a prefix
// is a key range. normalizeCode() turns what people type ("e11.9 ", "E119") into
// that form.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/coding/code_system.h"

namespace courier::coding {

inline constexpr int kMaxCodeLength = 8;

// A code in canonical undotted form, held inline (no allocation).
struct PlainCode {
  char chars[kMaxCodeLength] = {};
  uint8_t length = 0;

  std::string_view view() const { return {chars, length}; }
  uint64_t key() const;
};

// Strips surrounding whitespace and dots, upper-cases. Returns false when the
// result is empty, longer than kMaxCodeLength, or has a character outside
// [A-Za-z0-9] (the input is then not a code of any system here).
bool normalizeCode(std::string_view raw, PlainCode& out);

uint64_t packCode(std::string_view undotted);  // undotted must be <= 8 chars
PlainCode unpackCode(uint64_t key);

// Smallest and largest key that start with `prefix` (inclusive range).
uint64_t prefixLow(uint64_t prefix_key);
uint64_t prefixHigh(uint64_t prefix_key, int prefix_length);

// The dotted display form for a system: ICD-10-CM "E11.9", ICD-9-CM "250.00" /
// "E880.9"; ICD-10-PCS and HCPCS have no dot. Writes into `buf` (>= 10 chars) and
// returns the view of it.
std::string_view dottedForm(CodeSystem system, std::string_view undotted, char* buf);

}  // namespace courier::coding
