// Bytes → CanonicalRecord, whatever the format: the one place that decides between
// HL7 v2 and FHIR R4 JSON and runs the matching reader (from_hl7v2.h, from_fhir.h),
// then the site maps (site_map.h) for HL7 v2.
//
// Input whose first non-blank byte is `{` is FHIR JSON (a Bundle or a resource);
// anything else is HL7 v2.
//
// Errors (PHI-free, from the readers): kParse with the HL7 path (`PID`, `MSH-9`,
// `PID[1]-3`) for HL7 v2, kParse (`offset N`) or kInvalidArgument (JSON path) for
// FHIR. recordsFromBytes prefixes the location with the item that failed
// (`message 3: PID`, `document 2: offset 17`).
//
// Thread-safety: pure functions of their input (the SiteMaps are read only).
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "engine/core/result.h"
#include "engine/hl7v2/message.h"
#include "engine/record/canonical_record.h"
#include "engine/record/site_map.h"

namespace courier::record {

enum class InputFormat { kHl7v2, kFhirJson };

// `{` as the first non-blank byte: FHIR JSON; anything else HL7 v2.
InputFormat detectFormat(std::string_view bytes);

struct DecodeOptions {
  // Applied to HL7 v2 messages after the standard conversion; null: none.
  const SiteMaps* site_maps = nullptr;
};

struct DecodedRecord {
  CanonicalRecord record;
  InputFormat format = InputFormat::kHl7v2;
  // The parsed HL7 v2 message (for the coder's access to raw fields); empty for FHIR.
  // It views the bytes given to recordFromBytes, which must outlive it.
  std::optional<hl7v2::Message> message;
};

// One HL7 v2 message or one FHIR JSON document (nothing but blanks after it).
[[nodiscard]] Result<DecodedRecord> recordFromBytes(std::string_view bytes, const DecodeOptions& options = {});

// A file's worth: HL7 v2 messages (one, several, or a FHS/BHS batch) or FHIR JSON
// documents one after the other. Calls `each` for every record in order and stops at
// the first that cannot be read (that error is returned, located as above).
[[nodiscard]] Result<void> recordsFromBytes(std::string_view bytes, const DecodeOptions& options,
                                            const std::function<void(DecodedRecord&)>& each);

}  // namespace courier::record
