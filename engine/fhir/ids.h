// Deterministic resource ids for FHIR resources Courier generates.
//
// The same input always yields the same id (so a replayed message updates
// rather than duplicates), and different inputs differ in a 122-bit hash, so
// two resources made from different messages or from different segments of one
// message do not collide in practice. Output is a lowercase RFC 9562 UUID
// (version 8, "custom") usable as a FHIR id and, prefixed with `urn:uuid:`, as
// a Bundle fullUrl.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace courier::fhir {

// 128-bit hash of `data`; not cryptographic, stable across platforms and versions.
struct Hash128 {
  uint64_t hi = 0;
  uint64_t lo = 0;
};
Hash128 hash128(std::string_view data);

// hash128 of text given in parts: Hasher().add(a).add(b).finish() == hash128(a + b).
// A value type, so a prefix many ids share (a message's identity) is hashed once
// and each id continues from a copy.
class Hasher {
 public:
  // Inline: an id hashes a few short parts ("|", a resource type), where a call
  // cost as much as the hashing.
  Hasher& add(std::string_view part) {
    // Two FNV-1a lanes with different offsets and primes, cross-mixed in finish().
    uint64_t a = a_;
    uint64_t b = b_;
    for (char ch : part) {
      const auto c = static_cast<unsigned char>(ch);
      a = (a ^ c) * 0x100000001b3ULL;
      b = (b ^ c) * 0x100000001b5ULL;
    }
    a_ = a;
    b_ = b;
    size_ += part.size();
    return *this;
  }
  Hash128 finish() const;

 private:
  uint64_t a_ = 0xcbf29ce484222325ULL;
  uint64_t b_ = 0x84222325cbf29ce4ULL;
  uint64_t size_ = 0;
};

// A UUID's 36-character text held inline (no allocation); empty until made by uuidOf.
class Uuid {
 public:
  static constexpr size_t kSize = 36;

  std::string_view view() const { return {text_, size_}; }
  operator std::string_view() const { return view(); }  // NOLINT: used where text is
  bool empty() const { return size_ == 0; }

 private:
  friend Uuid uuidOf(const Hasher& seed);
  char text_[kSize] = {};
  size_t size_ = 0;
};

// Formats hash128(seed) as "xxxxxxxx-xxxx-8xxx-yxxx-xxxxxxxxxxxx".
std::string deterministicUuid(std::string_view seed);
// The same for a seed given in parts (the UUID of the concatenated text).
std::string deterministicUuid(const Hasher& seed);
// The same UUID as deterministicUuid(seed), without an allocation.
Uuid uuidOf(const Hasher& seed);

}  // namespace courier::fhir
