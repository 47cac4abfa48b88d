// SpecialtyTable: the data behind deriveSpecialties (specialty.h): which hospital
// services (PV1-10) and which ICD-10-CM ranges mean which clinical specialty.
//
// The table is mappings/routing/specialties.csv (provenance in its comment lines),
// compiled into the library at build time, so routing needs no file at run time.
// parse() exists for tests and for checking an edited table.
//
// Specialties are numbered in name order (at most 64), so a set of them is a bit mask and
// ascending bits are sorted names.
//
// Thread-safety: immutable after parse(); builtIn() is initialized once, thread-safely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/core/result.h"
#include "engine/routing/code_key.h"

namespace courier::routing {

class SpecialtyTable {
 public:
  static constexpr std::size_t kMaxSpecialties = 64;

  // CSV lines `service,KEY,specialty` and `icd10cm,FROM-TO,specialty`; '#' lines and blank
  // lines are skipped. Errors (kInvalidArgument) name the line.
  static Result<SpecialtyTable> parse(std::string_view csv);
  // mappings/routing/specialties.csv as compiled in. Aborts if that table does not parse
  // (a build defect, caught by the unit tests).
  static const SpecialtyTable& builtIn();

  // Sorted, unique; bit i of a mask is names()[i].
  const std::vector<std::string>& names() const { return names_; }
  std::optional<int> find(std::string_view name) const;
  // Names of the bits set in `mask`, in order.
  std::vector<std::string> namesOf(std::uint64_t mask) const;

  // The specialty of a PV1-10 value (case and surrounding spaces ignored); 0 when none.
  std::uint64_t forService(std::string_view service) const;
  // The specialty of an ICD-10-CM code: the first matching range in file order; 0 when none.
  std::uint64_t forDiagnosis(const CodeKey& code) const;

 private:
  struct Range {
    CodeRangeKey range;
    std::uint64_t bit;
  };
  std::vector<std::string> names_;
  std::vector<std::pair<std::string, std::uint64_t>> services_;  // upper-case key, sorted
  std::vector<Range> ranges_;                                    // file order
  // Per first letter of a code, the indexes into ranges_ that may hold it, in file order.
  std::vector<std::uint16_t> by_letter_[26];
};

}  // namespace courier::routing
