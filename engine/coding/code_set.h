// CodeSet: one release of one code system (e.g. ICD-10-CM FY2026), loaded from
// its TSV into flat arrays: entries sorted by code, an open-addressing hash for
// point lookups and one pool for the descriptions.
//
// Lookups never allocate and are safe from any number of threads once loaded
// (the set is immutable after load()).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/coding/code_key.h"
#include "engine/coding/code_system.h"
#include "engine/core/result.h"

namespace courier::coding {

// What release a code was checked against; recorded with every assigned code.
struct ReleaseInfo {
  CodeSystem system = CodeSystem::kIcd10Cm;
  std::string name;          // "ICD-10-CM FY2026"
  int fiscal_year = 0;       // 0 when the release is not a fiscal-year release (HCPCS)
  bool official = true;      // false for the rebuilt FY2027 ICD-10-CM list
  std::string source_file;   // file name under mappings/codesets
};

struct CodeEntry {
  uint64_t key = 0;          // packCode(undotted code)
  uint32_t desc_offset = 0;  // into the description pool
  uint16_t desc_length = 0;
  uint8_t length = 0;        // characters in the code
  uint8_t flags = 0;
  uint32_t effective = 0;    // yyyymmdd the code took effect; 0 = whole release
  uint32_t terminated = 0;   // yyyymmdd of termination; 0 = active

  static constexpr uint8_t kBillable = 1;  // a leaf, valid on a claim
  static constexpr uint8_t kModifier = 2;  // HCPCS modifier
  bool billable() const { return (flags & kBillable) != 0; }
  bool modifier() const { return (flags & kModifier) != 0; }
};

class CodeSet {
 public:
  CodeSet() = default;

  // The 4-column layout shared by ICD-10-CM and ICD-10-PCS files:
  // code, billable (1/0), short_description, long_description; one header row.
  static Result<CodeSet> loadOrderTsv(ReleaseInfo release, std::string_view text);
  // CMS HCPCS Level II TSV (11 columns; see mappings/codesets/PROVENANCE.md).
  static Result<CodeSet> loadHcpcsTsv(ReleaseInfo release, std::string_view text);

  const ReleaseInfo& release() const { return release_; }
  CodeSystem system() const { return release_.system; }

  // nullptr when the code is not in this release.
  const CodeEntry* find(uint64_t key) const;
  const CodeEntry* find(std::string_view undotted) const { return find(packCode(undotted)); }
  // Starts fetching the hash slot find(key) reads first, so that a caller with
  // several keys to look up overlaps their cache misses.
  void prefetch(uint64_t key) const;

  // All entries whose code starts with the prefix (the prefix itself included), in code order.
  std::span<const CodeEntry> withPrefix(std::string_view undotted_prefix) const;
  // All entries with low <= key <= high, in code order.
  std::span<const CodeEntry> inRange(uint64_t low, uint64_t high) const;

  std::string_view description(const CodeEntry& e) const {
    return std::string_view(pool_).substr(e.desc_offset, e.desc_length);
  }
  std::span<const CodeEntry> entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  size_t billableCount() const;
  size_t memoryBytes() const;

 private:
  Result<void> finish();  // sorts, checks duplicates, builds the hash

  ReleaseInfo release_;
  std::vector<CodeEntry> entries_;  // sorted by key
  std::string pool_;                // descriptions, back to back
  struct Slot {
    uint64_t key;
    uint32_t index;  // into entries_; kEmpty when free
  };
  static constexpr uint32_t kEmpty = 0xFFFFFFFFu;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
};

}  // namespace courier::coding
