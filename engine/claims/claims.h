// Claims: a coded record becomes what an insurer is sent: a FHIR R4 Claim or an
// X12 005010X222A1 837P (professional) interchange.
//
// Both outputs are built from the same claim lines, so they always agree:
//   diagnoses  the ICD-10-CM codes the coder assigned to the record's diagnoses, in order,
//              duplicates removed, at most 12 (the 837P limit); the first is principal;
//   lines      one per charge (FT1): the coder's HCPCS code, the FT1-26 modifiers (else the
//              crosswalk's), FT1-10 units (default 1), the FT1-11 extended amount (or FT1-12
//              unit amount times units), FT1-4 as the service date (else the date of service),
//              and pointers to the diagnoses the line names in FT1-19 (else the first up to 4).
//
// Only coded, confirmed records become claims: checkClaimable() says why one cannot be
// built, and both writers call it first. Errors never carry PHI: they name items by
// position ("charge 2"), never by value.
//
// Thread-safety: pure functions of their inputs.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "engine/coding/record_coder.h"
#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/record/canonical_record.h"

namespace courier::claims {

struct ClaimInput {
  const record::CanonicalRecord* record = nullptr;  // not owned; must outlive the call
  const coding::CodedRecord* coded = nullptr;       // the coder's result for *record
  // Stable idempotency id ("courier-123-insurer"), the same on every retry: CLM01 (at most
  // 38 characters, X12 delimiters not allowed), BHT03 and the Claim identifier
  // (system "urn:courier:claim"); the Claim's resource id is derived from it.
  std::string claim_id;
  // Positive. ISA13 / GS06 (of the first input) and ST02 of this claim's transaction set,
  // folded into 1..999999999 ((n - 1) % 999999999 + 1); ST02 is zero-padded to 4 digits.
  std::int64_t control_number = 0;
};

// Whether a claim can be built: a patient, a date of service, at least one ICD-10-CM
// diagnosis code and one charge line, every diagnosis, procedure and charge coded and none
// waiting for review, every charge a debit (FT1-6 CG or empty) with a HCPCS code and an
// amount. kInvalidArgument with a sentence saying what is missing otherwise.
[[nodiscard]] Result<void> checkClaimable(const ClaimInput& input);

// A FHIR R4 Claim (JSON text, one line). The Patient, the payer Organization and the
// Coverage (record.coverages[0], else the payer of `parties`) are contained resources, so
// the Claim stands alone; provider is the billing NPI, insurer the payer.
// type is institutional for inpatients (PV1-2 I), professional otherwise.
[[nodiscard]] Result<std::string> toFhirClaim(const ClaimInput& input, const config::ClaimParties& parties);

// One X12 005010X222A1 837P interchange (ISA/GS/.../GE/IEA) holding one transaction set
// (ST/SE) per input, each with one billing provider (HL 20), one subscriber who is the
// patient (HL 22) and one claim (CLM), so that a 999 or 277CA answer naming an ST02 names
// exactly one claim. Delimiters: element '*', component ':', repetition '^', segment '~'
// followed by '\n' (readable; X12 parsers skip the line break). `created` gives ISA09/10,
// GS04/05 and BHT04/05 (UTC), so that the output is a pure function of its inputs.
// kInvalidArgument when an input is not claimable, when control numbers repeat, or when
// `parties` lacks an id the envelope needs.
[[nodiscard]] Result<std::string> toX12_837P(std::span<const ClaimInput> inputs, const config::ClaimParties& parties,
                                             std::chrono::system_clock::time_point created);

}  // namespace courier::claims
