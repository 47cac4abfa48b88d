// HL7 v2 → CanonicalRecord.
//
// Reads a parsed message (ADT, ORU, ORM, OML, SIU, DFT, BAR, VXU, MDM and any
// other type that carries a PID) segment by segment and fills the record; each
// value keeps its HL7 path (`DG1[2]-3.1`) as its source. The conversion is
// lenient the way receiving systems must be: unknown segments are skipped,
// missing optional fields stay empty.
//
// Errors: kParse with location "PID" when the message has no patient, which is
// the one thing every supported message must carry. Messages without a
// MSH-9 type get kParse at "MSH-9". Error texts carry no PHI.
//
// Thread-safety: pure function of its input.
#pragma once

#include "engine/core/result.h"
#include "engine/hl7v2/message.h"
#include "engine/record/canonical_record.h"

namespace courier::record {

[[nodiscard]] Result<CanonicalRecord> fromHl7v2(const hl7v2::Message& msg);

}  // namespace courier::record
