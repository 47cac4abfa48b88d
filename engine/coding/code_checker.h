// CodeChecker: is a code valid in the release in force on the date of service?
//
// check() is the hot path: it normalizes the input into an inline buffer and
// answers from flat tables; it never allocates. describe() explains a result
// for people (children of a header, valid 7th characters, other releases that
// hold the code) and may allocate.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/coding/code_key.h"
#include "engine/coding/code_set.h"
#include "engine/coding/code_sets.h"
#include "engine/coding/service_date.h"

namespace courier::coding {

enum class CheckStatus {
  kValid,               // in the release and billable (and effective on the date)
  kHeader,              // in the release but a category: more characters needed
  kSeventhMissing,      // a 7th character is required (injuries, S52.501 -> S52.501A)
  kPlaceholderMissing,  // 7th character given without its X placeholders (S0990A -> S09.90XA)
  kSeventhInvalid,      // 7th character not defined for this code
  kNotInRelease,        // malformed for no reason but unknown in this release
  kNotYetEffective,     // HCPCS: added after the date of service
  kTerminated,          // HCPCS: terminated before the date of service
  kMalformed,           // not a code of any shape (empty, bad characters, too long)
  kNoRelease,           // no release loaded for that date
};

std::string_view checkStatusName(CheckStatus status);

struct CheckResult {
  CheckStatus status = CheckStatus::kMalformed;
  PlainCode code;                  // normalized, undotted
  PlainCode suggestion;            // corrected code when status suggests one (length 0 = none)
  const CodeEntry* entry = nullptr;  // set when the code is in the release
  const CodeSet* set = nullptr;      // the release checked against

  bool valid() const { return status == CheckStatus::kValid; }
  bool inRelease() const { return entry != nullptr; }
  bool billable() const { return entry != nullptr && entry->billable(); }
  std::string_view display() const { return entry && set ? set->description(*entry) : std::string_view(); }
};

struct CheckDetails {
  std::string dotted;                   // normalized, dotted form
  std::string message;                  // one plain sentence
  std::vector<std::string> children;    // billable codes under a header (first few, dotted)
  std::vector<std::string> seventh_characters;  // valid 7th characters when relevant
  std::vector<std::string> other_releases;      // releases where the code is valid
};

class CodeChecker {
 public:
  explicit CodeChecker(const CodeSets& sets) : sets_(sets) {}

  // Picks the release for the date (see CodeSets::releaseFor), then checks.
  CheckResult check(CodeSystem system, std::string_view raw,
                    std::optional<ServiceDate> date) const;
  // Checks against a given release (date only used for HCPCS effective dates).
  CheckResult check(const CodeSet& set, std::string_view raw,
                    std::optional<ServiceDate> date = std::nullopt) const;

  CheckDetails describe(const CheckResult& result) const;

 private:
  const CodeSets& sets_;
};

}  // namespace courier::coding
