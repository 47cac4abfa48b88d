// CodeSystem: the code systems Courier checks and assigns, with their FHIR URIs.
#pragma once

#include <optional>
#include <string_view>

namespace courier::coding {

enum class CodeSystem {
  kIcd10Cm,   // ICD-10-CM diagnoses
  kIcd10Pcs,  // ICD-10-PCS inpatient procedures
  kHcpcs,     // HCPCS Level II (items, services, modifiers)
  kIcd9Cm,    // ICD-9-CM diagnoses (legacy; only a GEM source)
};

// Short names as used on the command line: "icd10cm", "icd10pcs", "hcpcs", "icd9cm".
std::string_view codeSystemName(CodeSystem system);
std::optional<CodeSystem> parseCodeSystem(std::string_view name);

// The FHIR R4 system URI (e.g. "http://hl7.org/fhir/sid/icd-10-cm").
std::string_view codeSystemUri(CodeSystem system);
std::optional<CodeSystem> codeSystemFromUri(std::string_view uri);

}  // namespace courier::coding
