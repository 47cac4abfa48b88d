// deriveSpecialties: which clinical specialties a message concerns, for routes that
// match on `specialties: [oncology, ...]` (registries subscribe by specialty).
//
// Two sources, both looked up in SpecialtyTable::builtIn() (mappings/routing/specialties.csv):
// - the hospital service, PV1-10 (HL7 table 0069: CAR, MED, PUL, SUR, URO, and common
//   abbreviations and spelled-out names such as ONC or "Cardiology");
// - the ICD-10-CM diagnoses: the codes the coder assigned when `coded` is given, else the
//   codes as sent whose system is ICD-10-CM or unnamed. Each code counts for the specialty
//   of its chapter or block (C00-D49 oncology, I60-I69 neurology, I00-I99 cardiology, ...).
//
// Thread-safety: pure function of its inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/coding/record_coder.h"
#include "engine/record/canonical_record.h"

namespace courier::routing {

// Sorted, unique specialty names (e.g. {"cardiology", "oncology"}); empty when none applies.
std::vector<std::string> deriveSpecialties(const record::CanonicalRecord& record, const coding::CodedRecord* coded);

// The same as a mask over SpecialtyTable::builtIn().names(), without allocating (Router).
std::uint64_t specialtyMask(const record::CanonicalRecord& record, const coding::CodedRecord* coded);

}  // namespace courier::routing
