// RecordCoder: codes a whole CanonicalRecord the way a clinical coder would, so that the
// pipeline can route on codes and build claims.
//
// For every diagnosis (DG1, FHIR Condition) it checks and normalizes the sent
// ICD-10-CM code for the date of service, translates ICD-9-CM through the GEMs, or codes
// the text when no usable code came; for every charge (FT1) it checks the HCPCS code
// (FT1-25) or translates the chargemaster code (FT1-7) through the site crosswalk; for
// every procedure it checks the sent ICD-10-PCS / HCPCS code. Each result says how the
// code was found and how sure Courier is; what it is not sure of is `review`.
// FT1-19 diagnosis pointers are not coded here: the claims builder links them by code
// to record.diagnoses.
//
// Date of service: the discharge date for inpatient stays (PV1-2 "I" with PV1-45), else
// the first of FT1-4, PV1-44, DG1-5, MSH-7. A charge's HCPCS code is checked for its own
// FT1-4 date when it has one (the claim line's date), else for the record's. A record
// with no date at all is coded against the newest release but every item goes to review.
//
// Overrides: a reviewer's decision from the worklist replaces the result of one item
// (method "reviewed", confidence 1, review false), so a held record becomes claimable.
//
// Thread-safety: immutable after load(); code() may run on many threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/coding/coding_result.h"
#include "engine/coding/service_date.h"
#include "engine/core/result.h"
#include "engine/record/canonical_record.h"

namespace courier::coding {

enum class CodedItemKind { kDiagnosis, kProcedure, kCharge };
std::string_view codedItemKindName(CodedItemKind kind);  // "diagnosis", "procedure", "charge"

struct CodedRecord {
  std::optional<ServiceDate> date_of_service;
  std::vector<CodingResult> diagnoses;   // diagnoses[i] codes record.diagnoses[i]
  std::vector<CodingResult> procedures;  // procedures[i] codes record.procedures[i]
  std::vector<CodingResult> charges;     // charges[i]: the HCPCS code of record.charges[i]

  // Some item must be confirmed by a person before anything reaches a claim.
  bool needsReview() const;
  // Every item has at least one code and none needs review.
  bool allBillable() const;
  // Every code assigned, diagnoses first, for code-range routing.
  std::vector<const AssignedCode*> allCodes() const;
};

// The date of service of a record, by the rule above; nullopt when it carries no date.
std::optional<ServiceDate> recordDateOfService(const record::CanonicalRecord& rec);

// A reviewer's decision for one item (from the worklist): these codes, in sequence.
struct CodeOverride {
  CodedItemKind kind = CodedItemKind::kDiagnosis;
  std::size_t index = 0;            // into record.diagnoses / procedures / charges
  std::vector<std::string> codes;   // dotted or not; checked again for the date
  std::string reviewer;
};

struct RecordCoderOptions {
  // Site crosswalks (CSV or FHIR ConceptMap JSON, see crosswalk.h), tried in order.
  // Unset: every *.csv / *.json / *.csv.gz in <mappings_dir>/crosswalks/, by name,
  // when that folder exists.
  std::optional<std::vector<std::string>> crosswalk_files;
};

class RecordCoder {
 public:
  // Loads the code sets, text coder, GEMs and site crosswalks from `mappings_dir`.
  // Errors name the file that failed.
  static Result<std::unique_ptr<RecordCoder>> load(const std::string& mappings_dir);
  static Result<std::unique_ptr<RecordCoder>> load(const std::string& mappings_dir,
                                                   const RecordCoderOptions& options);
  ~RecordCoder();

  // Per item, in order (sent systems: HL7 table 0396 names, FHIR URIs, OIDs):
  //  diagnosis  ICD-10-CM (or no system and ICD-10-CM shaped) -> checked/normalized; not
  //             billable -> review, with codes proposed from the text when there is text;
  //             ICD-9-CM -> GEM; a local system -> site crosswalk; else the text coder on
  //             DG1-4 / the code's display (negated, uncertain or uncodable -> review).
  //  procedure  ICD-10-PCS / HCPCS -> checked; CPT -> review ("CPT is not licensed in
  //             Courier's code sets") unless a crosswalk maps it; text only -> review.
  //  charge     FT1-25 HCPCS -> checked; else FT1-7 through a crosswalk; else review.
  //             FT1-26 modifiers follow the crosswalk's own: HCPCS Level II modifiers must
  //             be current (else review), two-digit CPT modifiers are carried unchecked.
  // An override with a code not valid for the date leaves the item in review, the
  // reason naming the code. Overrides with an index out of range are ignored.
  CodedRecord code(const record::CanonicalRecord& rec,
                   std::span<const CodeOverride> overrides = {}) const;

  struct Impl;

 private:
  explicit RecordCoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace courier::coding
