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

// Formats hash128(seed) as "xxxxxxxx-xxxx-8xxx-yxxx-xxxxxxxxxxxx".
std::string deterministicUuid(std::string_view seed);

}  // namespace courier::fhir
