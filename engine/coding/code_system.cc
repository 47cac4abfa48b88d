#include "engine/coding/code_system.h"

namespace courier::coding {

std::string_view codeSystemName(CodeSystem system) {
  switch (system) {
    case CodeSystem::kIcd10Cm: return "icd10cm";
    case CodeSystem::kIcd10Pcs: return "icd10pcs";
    case CodeSystem::kHcpcs: return "hcpcs";
    case CodeSystem::kIcd9Cm: return "icd9cm";
  }
  return "unknown";
}

std::optional<CodeSystem> parseCodeSystem(std::string_view name) {
  if (name == "icd10cm" || name == "icd-10-cm") return CodeSystem::kIcd10Cm;
  if (name == "icd10pcs" || name == "icd-10-pcs") return CodeSystem::kIcd10Pcs;
  if (name == "hcpcs") return CodeSystem::kHcpcs;
  if (name == "icd9cm" || name == "icd-9-cm") return CodeSystem::kIcd9Cm;
  return std::nullopt;
}

std::string_view codeSystemUri(CodeSystem system) {
  switch (system) {
    case CodeSystem::kIcd10Cm: return "http://hl7.org/fhir/sid/icd-10-cm";
    case CodeSystem::kIcd10Pcs: return "http://www.cms.gov/Medicare/Coding/ICD10";
    case CodeSystem::kHcpcs: return "urn:oid:2.16.840.1.113883.6.285";
    case CodeSystem::kIcd9Cm: return "http://hl7.org/fhir/sid/icd-9-cm";
  }
  return "";
}

std::optional<CodeSystem> codeSystemFromUri(std::string_view uri) {
  for (CodeSystem s : {CodeSystem::kIcd10Cm, CodeSystem::kIcd10Pcs, CodeSystem::kHcpcs,
                       CodeSystem::kIcd9Cm}) {
    if (uri == codeSystemUri(s)) return s;
  }
  if (uri == "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets" ||
      uri == "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets")
    return CodeSystem::kHcpcs;
  return parseCodeSystem(uri);
}

}  // namespace courier::coding
