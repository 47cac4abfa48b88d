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

// Writes the 36 characters of h's UUID at out.
void formatUuid(Hash128 h, char* out) {
  // Version 8 (custom) and the RFC 4122/9562 variant bits.
  h.hi = (h.hi & 0xffffffffffff0fffULL) | 0x0000000000008000ULL;
  h.lo = (h.lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  static constexpr char kHex[] = "0123456789abcdef";
  // Where each of the 32 nibbles goes, most significant first (8-4-4-4-12).
  static constexpr unsigned char kAt[32] = {0,  1,  2,  3,  4,  5,  6,  7,  9,  10, 11,
                                            12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25,
                                            26, 27, 28, 29, 30, 31, 32, 33, 34, 35};
  out[8] = out[13] = out[18] = out[23] = '-';
  uint64_t hi = h.hi;
  uint64_t lo = h.lo;
  for (int i = 15; i >= 0; --i) {  // least significant nibble first
    out[kAt[i]] = kHex[hi & 0xf];
    out[kAt[16 + i]] = kHex[lo & 0xf];
    hi >>= 4;
    lo >>= 4;
  }
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
