// Crosswalk: a site's map from local codes (a chargemaster, a lab's test
// codes, a legacy problem list) to standard codes, read from CSV or from a
// FHIR R4 ConceptMap (JSON). The map's equivalence is kept: only `equal` /
// `equivalent` rows are applied without review.
//
// CSV (one header row, RFC 4180 quoting):
//   source_system,source_code,target_system,target_code,equivalence,modifiers,display
//   target_system: icd10cm | icd10pcs | hcpcs (or its FHIR URI); modifiers: "RT;59"
//   (HCPCS modifiers, may be empty); equivalence: a FHIR R4 ConceptMapEquivalence
//   (default "equivalent").
// ConceptMap: group[].source/target, element[].code, element[].target[].code /
//   equivalence, and target[].product[] with a property ending in "modifier".
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/coding/code_system.h"
#include "engine/core/result.h"

namespace courier::coding {

enum class Equivalence {
  kRelatedTo, kEquivalent, kEqual, kWider, kSubsumes, kNarrower, kSpecializes, kInexact, kUnmatched,
  kDisjoint,
};

std::optional<Equivalence> parseEquivalence(std::string_view text);
std::string_view equivalenceName(Equivalence e);
// True when a code may be applied without a person looking at it.
inline bool isExact(Equivalence e) { return e == Equivalence::kEqual || e == Equivalence::kEquivalent; }
// True when the row says there is no mapping.
inline bool isNoMap(Equivalence e) { return e == Equivalence::kUnmatched || e == Equivalence::kDisjoint; }

struct CrosswalkTarget {
  CodeSystem system = CodeSystem::kHcpcs;
  std::string code;  // as written in the map
  std::string display;
  Equivalence equivalence = Equivalence::kEquivalent;
  std::vector<std::string> modifiers;
};

class Crosswalk {
 public:
  static Result<Crosswalk> parseCsv(std::string_view text, const std::string& name);
  static Result<Crosswalk> parseConceptMap(std::string_view json, const std::string& name);
  // Reads a file (".json" -> ConceptMap, otherwise CSV; gzip accepted).
  static Result<Crosswalk> load(const std::string& path);

  // Targets for a local code; `source_system` may be empty to match any.
  std::vector<const CrosswalkTarget*> lookup(std::string_view source_system, std::string_view source_code) const;
  size_t size() const { return rows_; }

 private:
  struct Row {
    std::string source_system;
    CrosswalkTarget target;
  };
  std::unordered_map<std::string, std::vector<Row>> by_code_;  // key: source code as written, trimmed
  size_t rows_ = 0;
};

}  // namespace courier::coding
