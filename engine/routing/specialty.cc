#include "engine/routing/specialty.h"

#include "engine/routing/code_key.h"
#include "engine/routing/specialty_table.h"

namespace courier::routing {

std::uint64_t specialtyMask(const record::CanonicalRecord& record, const coding::CodedRecord* coded) {
  const SpecialtyTable& table = SpecialtyTable::builtIn();
  std::uint64_t mask = 0;
  if (!record.encounter.hospital_service.value.empty()) mask |= table.forService(record.encounter.hospital_service.value);
  auto add = [&](std::string_view code) {
    if (auto key = CodeKey::from(code)) mask |= table.forDiagnosis(*key);
  };
  if (coded != nullptr) {
    // Iterates the vectors rather than CodedRecord::allCodes(): no allocation, and only
    // diagnoses carry ICD-10-CM codes.
    for (const coding::CodingResult& result : coded->diagnoses) {
      for (const coding::AssignedCode& code : result.codes) {
        if (code.system == coding::CodeSystem::kIcd10Cm) add(code.code);
      }
    }
  } else {
    for (const record::Diagnosis& d : record.diagnoses) {
      auto system = sentSystem(d.code.system.value);
      if (system == SentSystem::kIcd10Cm || system == SentSystem::kUnnamed) add(d.code.code.value);
    }
  }
  return mask;
}

std::vector<std::string> deriveSpecialties(const record::CanonicalRecord& record, const coding::CodedRecord* coded) {
  return SpecialtyTable::builtIn().namesOf(specialtyMask(record, coded));
}

}  // namespace courier::routing
