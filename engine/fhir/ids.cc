#include "engine/fhir/ids.h"

#include <cstring>

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

// Writes the 36 characters of h's UUID at out (8-4-4-4-12 hex digits).
void formatUuid(Hash128 h, char* out) {
  // Version 8 (custom) and the RFC 4122/9562 variant bits.
  const uint64_t hi = (h.hi & 0xffffffffffff0fffULL) | 0x0000000000008000ULL;
  const uint64_t lo = (h.lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char* p = putHexBytes(out, hi, 4);
  *p++ = '-';
  p = putHexBytes(p, hi << 32, 2);
  *p++ = '-';
  p = putHexBytes(p, hi << 48, 2);
  *p++ = '-';
  p = putHexBytes(p, lo, 2);
  *p++ = '-';
  putHexBytes(p, lo << 16, 6);
}

}  // namespace

Hasher& Hasher::add(std::string_view part) {
  // Two FNV-1a lanes with different offsets and primes, cross-mixed in finish().
  uint64_t a = a_;
  uint64_t b = b_;
  for (unsigned char c : part) {
    a = (a ^ c) * 0x100000001b3ULL;
    b = (b ^ c) * 0x100000001b5ULL;
  }
  a_ = a;
  b_ = b;
  size_ += part.size();
  return *this;
}

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
