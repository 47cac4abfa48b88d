#include "engine/fhir/ids.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace courier::fhir {
namespace {

// Final mixer of MurmurHash3's 64-bit variant (a published constant set); it
// spreads every input bit over the whole word.
uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

#if !defined(__SSE2__)
// "00" to "ff": each byte's two hex digits, one table entry per byte.
struct HexPairs {
  char digits[256][2];
  constexpr HexPairs() : digits() {
    constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      digits[i][0] = kHex[i >> 4];
      digits[i][1] = kHex[i & 0xf];
    }
  }
};
constexpr HexPairs kHexPairs;

// Writes the `count` most significant bytes of v as hex at out; returns the end.
char* putHexBytes(char* out, uint64_t v, int count) {
  for (int i = 0; i < count; ++i) {
    std::memcpy(out, kHexPairs.digits[(v >> (56 - 8 * i)) & 0xff], 2);
    out += 2;
  }
  return out;
}

#endif

// Writes the 36 characters of h's UUID at out (8-4-4-4-12 hex digits).
void formatUuid(Hash128 h, char* out) {
  // Version 8 (custom) and the RFC 4122/9562 variant bits.
  const uint64_t hi = (h.hi & 0xffffffffffff0fffULL) | 0x0000000000008000ULL;
  const uint64_t lo = (h.lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
#if defined(__SSE2__)
  // All 32 digits at once: each byte split into its two nibbles, interleaved high
  // first, and each nibble turned into '0'-'9' or 'a'-'f'; then the 8-4-4-4-12 groups.
  const __m128i bytes =
      _mm_set_epi64x(static_cast<long long>(__builtin_bswap64(lo)), static_cast<long long>(__builtin_bswap64(hi)));
  const __m128i low_nibbles = _mm_set1_epi8(0x0f);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles);
  const __m128i low = _mm_and_si128(bytes, low_nibbles);
  auto toHex = [](__m128i nibbles) {
    const __m128i letters = _mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9));
    return _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')),
                        _mm_and_si128(letters, _mm_set1_epi8('a' - '0' - 10)));
  };
  char hex[32];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(hex), toHex(_mm_unpacklo_epi8(high, low)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(hex + 16), toHex(_mm_unpackhi_epi8(high, low)));
  std::memcpy(out, hex, 8);
  out[8] = '-';
  std::memcpy(out + 9, hex + 8, 4);
  out[13] = '-';
  std::memcpy(out + 14, hex + 12, 4);
  out[18] = '-';
  std::memcpy(out + 19, hex + 16, 4);
  out[23] = '-';
  std::memcpy(out + 24, hex + 20, 12);
#else
  char* p = putHexBytes(out, hi, 4);
  *p++ = '-';
  p = putHexBytes(p, hi << 32, 2);
  *p++ = '-';
  p = putHexBytes(p, hi << 48, 2);
  *p++ = '-';
  p = putHexBytes(p, lo, 2);
  *p++ = '-';
  putHexBytes(p, lo << 16, 6);
#endif
}

}  // namespace

Hash128 Hasher::finish() const {
  Hash128 h;
  h.hi = mix(a_ ^ mix(b_ + size_));
  h.lo = mix(b_ ^ mix(a_ ^ (size_ << 1)));
  return h;
}

Hash128 hash128(std::string_view data) { return Hasher().add(data).finish(); }

std::string deterministicUuid(std::string_view seed) { return std::string(uuidOf(Hasher().add(seed)).view()); }

std::string deterministicUuid(const Hasher& seed) { return std::string(uuidOf(seed).view()); }

Uuid uuidOf(const Hasher& seed) {
  Uuid id;
  formatUuid(seed.finish(), id.text_);
  id.size_ = Uuid::kSize;
  return id;
}

}  // namespace courier::fhir
