// CodeKey and CodeRangeKey: codes in the one form routing compares them in (no dot,
// upper case, at most 8 characters, no allocation), and inclusive ranges over them in
// which a short bound covers its whole subtree: C00-D49 takes C50.911 and D49.9.
//
// Also: which Courier code system a sender's system name means (`I10`, `ICD-10-CM`,
// the FHIR URI, ...), for routing on codes as sent when a message was not coded.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace courier::routing {

struct CodeKey {
  static constexpr std::size_t kMaxSize = 8;
  char text[kMaxSize] = {};
  std::uint8_t size = 0;

  // Drops dots and surrounding spaces, upper-cases; nullopt when empty, longer than
  // kMaxSize, or not letters and digits.
  static std::optional<CodeKey> from(std::string_view code);
  std::string_view view() const { return {text, size}; }
};

struct CodeRangeKey {
  CodeKey from;
  CodeKey to;

  // from <= code <= to, each bound compared with as many leading characters of the
  // code as the bound has (a code shorter than a bound is compared on its own length).
  bool contains(const CodeKey& code) const {
    return compareHead(code, from) >= 0 && compareHead(code, to) <= 0;
  }

  // Parses "C00-D49" or a single "C50" (a range of one code and its subtree).
  static std::optional<CodeRangeKey> parse(std::string_view text);
  static std::optional<CodeRangeKey> of(std::string_view from, std::string_view to);

 private:
  static int compareHead(const CodeKey& code, const CodeKey& bound) {
    std::size_t n = code.size < bound.size ? code.size : bound.size;
    for (std::size_t i = 0; i < n; ++i) {
      if (code.text[i] != bound.text[i]) return code.text[i] < bound.text[i] ? -1 : 1;
    }
    return 0;
  }
};

// The system a sender named for a code, in the spellings seen in feeds: HL7 table 0396
// ("I10", "I10C", "I10P", "HCPCS", "CPT4", "C4"), written-out names ("ICD-10-CM"), FHIR
// URIs and OIDs. kUnnamed for an empty name (the caller decides what an unnamed system
// is); nullopt for any other system (ICD-9, LOINC, local).
enum class SentSystem { kUnnamed, kIcd10Cm, kIcd10Pcs, kHcpcs };
std::optional<SentSystem> sentSystem(std::string_view name);

}  // namespace courier::routing
