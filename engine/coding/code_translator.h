// CodeTranslator: turns a code as a sender sent it into codes Courier can put
// on a claim, or into a review item:
//   fromSource    a standard code: checked for the date of service and normalized
//                 (method "source" when sent as is, "normalized" when reformatted);
//   fromIcd9      ICD-9-CM through the 2018 GEMs (method "gem"): a single exact
//                 map is applied; approximate, one-to-many and "no map" go to review;
//   fromCrosswalk a local code through a site crosswalk (method "crosswalk"): only
//                 equal/equivalent rows are applied without review, with their
//                 HCPCS modifiers.
// Every code returned is valid and billable in the release in force on the date.
#pragma once

#include <optional>
#include <string_view>

#include "engine/coding/code_checker.h"
#include "engine/coding/code_sets.h"
#include "engine/coding/coding_result.h"
#include "engine/coding/crosswalk.h"
#include "engine/coding/gem_map.h"
#include "engine/coding/service_date.h"

namespace courier::coding {

class CodeTranslator {
 public:
  // `gems` may be null (ICD-9-CM then always goes to review). Both must outlive this.
  CodeTranslator(const CodeSets& sets, const GemMap* gems) : sets_(sets), checker_(sets), gems_(gems) {}

  CodingResult fromSource(CodeSystem system, std::string_view raw, std::optional<ServiceDate> date) const;
  CodingResult fromIcd9(std::string_view raw, std::optional<ServiceDate> date) const;
  CodingResult fromCrosswalk(const Crosswalk& crosswalk, std::string_view source_system,
                             std::string_view source_code, std::optional<ServiceDate> date) const;

 private:
  const CodeSets& sets_;
  CodeChecker checker_;
  const GemMap* gems_;
};

}  // namespace courier::coding
