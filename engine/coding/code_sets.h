// CodeSets: every code-set release Courier knows, loaded once at start-up from
// mappings/codesets (gzip TSVs), and the rule that picks the release in force
// for a date of service.
//
// ICD-10-CM: FY2025 and FY2026 (official) and FY2027 (rebuilt, marked not
// official). ICD-10-PCS: FY2026. HCPCS Level II: October 2025 quarterly file,
// with per-code effective and termination dates.
// Immutable after load; safe to share between threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/coding/code_set.h"
#include "engine/coding/service_date.h"
#include "engine/core/result.h"

namespace courier::coding {

class CodeSets {
 public:
  // Loads every release from `dir` (mappings/codesets). Files are read in
  // parallel. Errors name the file that failed.
  static Result<std::unique_ptr<CodeSets>> load(const std::string& dir);

  // The release to check a code of `system` against. With a date, the ICD
  // release is the one of the date's fiscal year; kNotFound when that year is
  // not loaded (the caller must not fall back silently). Without a date, the
  // newest official release. PCS and HCPCS have one release each here; the
  // caller can compare release().fiscal_year with the date's year.
  Result<const CodeSet*> releaseFor(CodeSystem system, std::optional<ServiceDate> date) const;

  const CodeSet* icd10cmFiscalYear(int fiscal_year) const;
  const CodeSet& latestOfficialIcd10cm() const { return *icd10cm_[latest_official_]; }
  const std::vector<std::unique_ptr<CodeSet>>& icd10cmReleases() const { return icd10cm_; }
  const CodeSet& icd10pcs() const { return *icd10pcs_; }
  const CodeSet& hcpcs() const { return *hcpcs_; }

  size_t memoryBytes() const;

 private:
  std::vector<std::unique_ptr<CodeSet>> icd10cm_;  // ascending fiscal year
  size_t latest_official_ = 0;
  std::unique_ptr<CodeSet> icd10pcs_;
  std::unique_ptr<CodeSet> hcpcs_;
};

}  // namespace courier::coding
