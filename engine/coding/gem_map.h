// GemMap: the 2018 ICD-9-CM -> ICD-10-CM General Equivalence Mapping (the
// final CMS/NCHS release), as flat sorted arrays.
//
// Each row: source, target, flags (approximate, no map, combination,
// scenario, choice list). One source may have several rows: alternatives
// (one-to-many) or, when the combination flag is set, codes that together
// express the source (one per choice list within a scenario).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"

namespace courier::coding {

struct GemEntry {
  uint64_t source = 0;  // packed undotted ICD-9-CM code
  uint64_t target = 0;  // packed undotted ICD-10-CM code (0 for "no map")
  bool approximate = false;
  bool no_map = false;
  bool combination = false;
  uint8_t scenario = 0;
  uint8_t choice_list = 0;
};

class GemMap {
 public:
  // Reads `2018_I9gem.txt` (optionally gzip). kParse with the line on a bad row.
  static Result<GemMap> load(const std::string& path);

  // Rows for an undotted ICD-9-CM code, in file order; empty when unknown.
  std::span<const GemEntry> targets(std::string_view icd9_undotted) const;
  size_t size() const { return entries_.size(); }

 private:
  std::vector<GemEntry> entries_;  // sorted by source (stable: file order within a source)
};

}  // namespace courier::coding
