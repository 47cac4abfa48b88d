#include "engine/fhir/json.h"

#include <algorithm>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

#if defined(__SSE2__)
// Bit i set when byte i of v is a control byte, a quote or a backslash.
inline unsigned escapeMask(__m128i v) {
  const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
  const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
  const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(control, _mm_or_si128(quote, backslash))));
}
#endif

}  // namespace

void JsonWriter::appendQuoted(std::string_view s) {
  // Worst case: every byte becomes \u00XX.
  char* const start = os_->Push(s.size() * 6 + 2);
  char* p = putQuoted(start, s);
  os_->Pop(s.size() * 6 + 2 - static_cast<size_t>(p - start));
}

void JsonWriter::keyAndString(std::string_view key, std::string_view value) {
  // What Prefix() does for a key and then for its value: a ',' unless the key is
  // the object's first member, a ':' between them, two more values in the level.
  Level* level = level_stack_.Top<Level>();
  const size_t reserved = 1 + key.size() + 3 + value.size() * 6 + 2;
  char* const start = os_->Push(reserved);
  char* p = start;
  if (level->valueCount > 0) *p++ = ',';
  *p++ = '"';
  std::memcpy(p, key.data(), key.size());
  p += key.size();
  *p++ = '"';
  *p++ = ':';
  p = putQuoted(p, value);
  level->valueCount += 2;
  os_->Pop(reserved - static_cast<size_t>(p - start));
}

char* putQuoted(char* p, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  *p++ = '"';
  const char* in = s.data();
  const char* const end = in + s.size();
  // Most strings need no escape at all: a string of 8 to 16 bytes is checked as two
  // (overlapping) words and stored as two, with no loop and no library call.
  if (s.size() >= 8 && s.size() <= 16) {
    uint64_t head;
    uint64_t tail;
    std::memcpy(&head, in, 8);
    std::memcpy(&tail, end - 8, 8);
    if (needsEscape(head) == 0 && needsEscape(tail) == 0) {
      std::memcpy(p, &head, 8);
      std::memcpy(p + s.size() - 8, &tail, 8);
      p += s.size();
      *p++ = '"';
      return p;
    }
  }
  // 1 to 3 bytes (codes: "M", "EN", "PRN"): the first, middle and last byte cover them all.
  if (s.size() - 1 < 3) {
    const size_t mid = s.size() >> 1;
    const auto c0 = static_cast<unsigned char>(in[0]);
    const auto c1 = static_cast<unsigned char>(in[mid]);
    const auto c2 = static_cast<unsigned char>(end[-1]);
    auto plain = [](unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; };
    if (plain(c0) && plain(c1) && plain(c2)) {
      p[0] = static_cast<char>(c0);
      p[mid] = static_cast<char>(c1);
      p[s.size() - 1] = static_cast<char>(c2);
      p += s.size();
      *p++ = '"';
      return p;
    }
  }
  // 4 to 7 bytes: the first four and the last four (overlapping) checked as one word.
  if (s.size() >= 4 && s.size() < 8) {
    uint32_t head;
    uint32_t tail;
    std::memcpy(&head, in, 4);
    std::memcpy(&tail, end - 4, 4);
    if (needsEscape(static_cast<uint64_t>(head) | static_cast<uint64_t>(tail) << 32) == 0) {
      std::memcpy(p, &head, 4);
      std::memcpy(p + s.size() - 4, &tail, 4);
      p += s.size();
      *p++ = '"';
      return p;
    }
  }
  while (in < end) {
#if defined(__SSE2__)
    // Sixteen bytes at a time: the run before the first byte to escape is stored
    // (the whole vector is; the room holds it) and the output moves past the run only.
    while (end - in >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
      const unsigned mask = escapeMask(v);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
      if (mask != 0) {
        const int clean = __builtin_ctz(mask);
        in += clean;
        p += clean;
        break;
      }
      in += 16;
      p += 16;
    }
    // Fewer than sixteen left of a string of at least sixteen: its last sixteen bytes,
    // when none needs an escape (the bytes shared with the part already copied were
    // copied verbatim, so they land on the same output bytes).
    if (in < end && end - in < 16 && s.size() >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16));
      if (escapeMask(v) == 0) {
        const size_t left = static_cast<size_t>(end - in);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p + left - 16), v);
        p += left;
        break;
      }
    }
#endif
    // Copy the bytes that need no escape, eight at a time while possible (each word
    // is stored as it is checked: no separate copy of the run, which for the short
    // strings of a Bundle would be a library call each).
    while (end - in >= 8) {
      uint64_t w;
      std::memcpy(&w, in, 8);
      if (needsEscape(w) != 0) break;
      std::memcpy(p, &w, 8);
      in += 8;
      p += 8;
    }
    // Fewer than eight bytes left of a string of at least eight: the last eight
    // bytes of the input as one word, when none of them needs an escape. The bytes
    // it shares with what was already copied were copied verbatim (an escape among
    // them would show in the word), so they land on the same output bytes.
    if (in < end && end - in < 8 && s.size() >= 8) {
      uint64_t w;
      std::memcpy(&w, end - 8, 8);
      if (needsEscape(w) == 0) {
        const size_t left = static_cast<size_t>(end - in);
        std::memcpy(p + left - 8, &w, 8);
        p += left;
        break;
      }
    }
    while (in < end) {
      unsigned char c = static_cast<unsigned char>(*in);
      if (c < 0x20 || c == '"' || c == '\\') break;
      *p++ = static_cast<char>(c);
      ++in;
    }
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
  return p;
}

bool isFhirDecimal(std::string_view s) {
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and within what a JSON reader can hold
  // as a double: an HL7 amount like "1E0260210" is the syntax but no number (RapidJSON
  // refuses it: "Number too big to be stored in double"), so it is left out.
  constexpr long kMaxMagnitude = 300;  // decimal digits left of the point, exponent counted
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  long int_digits = 0;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
  } else {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t digits = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == digits) return false;
  }
  long exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    size_t digits = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      exponent = std::min(exponent * 10 + (s[i] - '0'), 10 * kMaxMagnitude);  // capped: no overflow
      ++i;
    }
    if (i == digits) return false;
    if (negative) exponent = -exponent;
  }
  if (i != s.size()) return false;
  return exponent >= -kMaxMagnitude && int_digits + exponent <= kMaxMagnitude;
}

}  // namespace courier::fhir
