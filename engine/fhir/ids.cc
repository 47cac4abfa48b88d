#include "engine/fhir/ids.h"

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

}  // namespace

Hash128 hash128(std::string_view data) {
  // Two FNV-1a lanes with different offsets and primes, cross-mixed at the end.
  uint64_t a = 0xcbf29ce484222325ULL;
  uint64_t b = 0x84222325cbf29ce4ULL;
  for (unsigned char c : data) {
    a = (a ^ c) * 0x100000001b3ULL;
    b = (b ^ c) * 0x100000001b5ULL;
  }
  uint64_t n = data.size();
  Hash128 h;
  h.hi = mix(a ^ mix(b + n));
  h.lo = mix(b ^ mix(a ^ (n << 1)));
  return h;
}

std::string deterministicUuid(std::string_view seed) {
  Hash128 h = hash128(seed);
  // Version 8 (custom) and the RFC 4122/9562 variant bits.
  h.hi = (h.hi & 0xffffffffffff0fffULL) | 0x0000000000008000ULL;
  h.lo = (h.lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](uint64_t word, int nibbles_from, int count) {
    for (int i = 0; i < count; ++i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      int shift = 60 - 4 * (nibbles_from + i);
      out[pos++] = kHex[(word >> shift) & 0xf];
    }
  };
  put(h.hi, 0, 16);
  put(h.lo, 0, 16);
  return out;
}

}  // namespace courier::fhir
