// ClaimModel (internal to engine/claims): the diagnoses and lines of one claim, decided
// once, so that the FHIR Claim and the 837P written from it cannot disagree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/claims/claims.h"

namespace courier::claims::detail {

struct ClaimDiagnosis {
  std::string code;     // dotted, as the coder assigned it: "E11.9"
  std::string display;  // from the code set release; may be empty
};

struct ClaimLine {
  std::string hcpcs;                   // "G0439", "36415"
  std::string display;
  std::vector<std::string> modifiers;  // at most 4
  std::int64_t units_milli = 1000;     // FT1-10 in thousandths
  std::int64_t charge_cents = 0;       // the line's total charge
  std::string service_date;            // YYYYMMDD
  std::vector<int> diagnosis_pointers; // 1-based into ClaimModel::diagnoses, 1 to 4 of them
};

struct ClaimModel {
  std::vector<ClaimDiagnosis> diagnoses;  // 1 to 12; the first is principal
  std::vector<ClaimLine> lines;           // at least 1
  std::int64_t total_cents = 0;
  std::string date_of_service;            // YYYYMMDD
  std::string first_service_date;         // YYYYMMDD, earliest line date
  std::string last_service_date;          // YYYYMMDD, latest line date
  bool inpatient = false;                 // PV1-2 I
  std::string place_of_service;           // CMS place of service code: 11, 21, 23
};

// kInvalidArgument naming every reason the input is not claimable.
Result<ClaimModel> buildClaimModel(const ClaimInput& input);

// 12500 -> "125.00" (FHIR decimal) and "125" / 1850 -> "18.5" (X12 R: no trailing zeros).
std::string centsFhir(std::int64_t cents);
std::string centsX12(std::int64_t cents);
// 1000 -> "1", 1500 -> "1.5".
std::string milliText(std::int64_t milli);
// "YYYYMMDD" -> "YYYY-MM-DD".
std::string fhirDate(const std::string& yyyymmdd);

}  // namespace courier::claims::detail
