// CodingResult: what the coder decided for one diagnosis or procedure: the codes
// in sequence, how each was found and how sure Courier is, alternatives, and
// whether a person must review it (with the reason and a draft physician query).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/coding/code_system.h"

namespace courier::coding {

enum class CodingMethod {
  kSource,      // the sender's code, valid as sent
  kNormalized,  // the sender's code, reformatted (E119 -> E11.9)
  kCrosswalk,   // translated through a site crosswalk (chargemaster, local codes)
  kGem,         // translated from ICD-9-CM through the GEMs
  kText,        // assigned from text through the Index and Tabular
  kReviewed,    // chosen by a person from the review worklist (CodeOverride)
};

std::string_view codingMethodName(CodingMethod method);

struct AssignedCode {
  std::string code;     // dotted form: "E11.22"
  CodeSystem system = CodeSystem::kIcd10Cm;
  std::string display;  // from the official release
  CodingMethod method = CodingMethod::kText;
  double confidence = 0.0;  // 0..1
  std::string release;      // "ICD-10-CM FY2026"
  std::string why;          // the index path or note that led to the code
  std::vector<std::string> modifiers;  // HCPCS modifiers from a chargemaster crosswalk
};

struct CodingResult {
  std::vector<AssignedCode> codes;         // in sequence; empty when nothing to code
  std::vector<AssignedCode> alternatives;  // the next best candidates, for review
  bool review = false;
  std::string reason;  // why review, or why nothing was coded ("negated", …)
  std::string query;   // draft physician query in plain words (when review)
  std::string release; // the release the codes were checked against
};

}  // namespace courier::coding
