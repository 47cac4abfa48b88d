#include "engine/routing/code_key.h"

#include <cctype>
#include <string>

namespace courier::routing {

std::optional<CodeKey> CodeKey::from(std::string_view code) {
  while (!code.empty() && code.front() == ' ') code.remove_prefix(1);
  while (!code.empty() && code.back() == ' ') code.remove_suffix(1);
  CodeKey key;
  for (char c : code) {
    if (c == '.') continue;
    if (!std::isalnum(static_cast<unsigned char>(c)) || key.size == kMaxSize) return std::nullopt;
    key.text[key.size++] = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (key.size == 0) return std::nullopt;
  return key;
}

std::optional<CodeRangeKey> CodeRangeKey::of(std::string_view from, std::string_view to) {
  auto a = CodeKey::from(from);
  auto b = CodeKey::from(to);
  if (!a || !b) return std::nullopt;
  return CodeRangeKey{*a, *b};
}

std::optional<CodeRangeKey> CodeRangeKey::parse(std::string_view text) {
  std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) return of(text, text);
  if (text.find('-', dash + 1) != std::string_view::npos) return std::nullopt;
  return of(text.substr(0, dash), text.substr(dash + 1));
}

std::optional<SentSystem> sentSystem(std::string_view name) {
  // Compare on upper case letters and digits only: "ICD-10-CM", "icd10cm" and
  // "ICD 10 CM" are one name. URIs and OIDs are compared as written.
  if (name.empty()) return SentSystem::kUnnamed;
  if (name == "http://hl7.org/fhir/sid/icd-10-cm" || name == "urn:oid:2.16.840.1.113883.6.90" ||
      name == "2.16.840.1.113883.6.90") {
    return SentSystem::kIcd10Cm;
  }
  if (name == "http://www.cms.gov/Medicare/Coding/ICD10" || name == "urn:oid:2.16.840.1.113883.6.4" ||
      name == "2.16.840.1.113883.6.4") {
    return SentSystem::kIcd10Pcs;
  }
  if (name == "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets" ||
      name == "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets" || name == "http://www.ama-assn.org/go/cpt" ||
      name == "urn:oid:2.16.840.1.113883.6.285" || name == "2.16.840.1.113883.6.285" ||
      name == "urn:oid:2.16.840.1.113883.6.12" || name == "2.16.840.1.113883.6.12") {
    return SentSystem::kHcpcs;
  }
  char buf[24];
  std::size_t n = 0;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) continue;
    if (n == sizeof buf) return std::nullopt;
    buf[n++] = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  std::string_view k(buf, n);
  if (k == "I10" || k == "I10C" || k == "ICD10" || k == "ICD10CM") return SentSystem::kIcd10Cm;
  if (k == "I10P" || k == "ICD10PCS") return SentSystem::kIcd10Pcs;
  if (k == "HCPCS" || k == "HCPC" || k == "HCPCSII" || k == "HCPCSLEVELII" || k == "CPT" || k == "CPT4" || k == "C4") {
    return SentSystem::kHcpcs;
  }
  return std::nullopt;
}

}  // namespace courier::routing
