#include "engine/fhir/json.h"

namespace courier::fhir {
namespace {

// Nonzero when one of the eight bytes of `w` is a control byte, a quote or a backslash
// (the classic "has a byte less than n" / "has a zero byte" bit tricks).
inline uint64_t needsEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  uint64_t control = (w - kOnes * 0x20) & ~w;
  uint64_t x = w ^ (kOnes * '"');
  uint64_t quote = (x - kOnes) & ~x;
  uint64_t y = w ^ (kOnes * '\\');
  uint64_t backslash = (y - kOnes) & ~y;
  return (control | quote | backslash) & kHigh;
}

}  // namespace

void JsonWriter::appendQuoted(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  rapidjson::StringBuffer& out = *os_;
  // Worst case: every byte becomes \u00XX.
  char* p = out.Push(s.size() * 6 + 2);
  char* const start = p;
  *p++ = '"';
  const char* in = s.data();
  const char* const end = in + s.size();
  while (in < end) {
    // Copy the run of bytes that need no escape, eight at a time while possible.
    const char* run = in;
    while (end - in >= 8) {
      uint64_t w;
      std::memcpy(&w, in, 8);
      if (needsEscape(w) != 0) break;
      in += 8;
    }
    while (in < end) {
      unsigned char c = static_cast<unsigned char>(*in);
      if (c < 0x20 || c == '"' || c == '\\') break;
      ++in;
    }
    std::memcpy(p, run, static_cast<size_t>(in - run));
    p += in - run;
    if (in == end) break;
    unsigned char c = static_cast<unsigned char>(*in++);
    *p++ = '\\';
    switch (c) {
      case '"': *p++ = '"'; break;
      case '\\': *p++ = '\\'; break;
      case '\b': *p++ = 'b'; break;
      case '\f': *p++ = 'f'; break;
      case '\n': *p++ = 'n'; break;
      case '\r': *p++ = 'r'; break;
      case '\t': *p++ = 't'; break;
      default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = kHex[c >> 4];
        *p++ = kHex[c & 0xf];
    }
  }
  *p++ = '"';
  out.Pop(s.size() * 6 + 2 - static_cast<size_t>(p - start));
}

bool isFhirDecimal(std::string_view s) {
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  } else {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t digits = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == digits) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t digits = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == digits) return false;
  }
  return i == s.size();
}

}  // namespace courier::fhir
