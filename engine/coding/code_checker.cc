#include "engine/coding/code_checker.h"

namespace courier::coding {

std::string_view checkStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::kValid: return "valid";
    case CheckStatus::kHeader: return "header";
    case CheckStatus::kSeventhMissing: return "seventh_character_missing";
    case CheckStatus::kPlaceholderMissing: return "placeholder_missing";
    case CheckStatus::kSeventhInvalid: return "seventh_character_invalid";
    case CheckStatus::kNotInRelease: return "not_in_release";
    case CheckStatus::kNotYetEffective: return "not_yet_effective";
    case CheckStatus::kTerminated: return "terminated";
    case CheckStatus::kMalformed: return "malformed";
    case CheckStatus::kNoRelease: return "no_release";
  }
  return "unknown";
}

namespace {

// True when every billable code under `prefix` is exactly 7 characters long: the
// category needs a 7th character (with X placeholders when shorter than 6).
bool needsSeventh(const CodeSet& set, std::string_view prefix) {
  auto span = set.withPrefix(prefix);
  bool any = false;
  for (const CodeEntry& e : span) {
    if (!e.billable()) continue;
    if (e.length != 7) return false;
    any = true;
  }
  return any;
}

}  // namespace

CheckResult CodeChecker::check(CodeSystem system, std::string_view raw,
                               std::optional<ServiceDate> date) const {
  auto set = sets_.releaseFor(system, date);
  if (!set) {
    CheckResult r;
    r.status = CheckStatus::kNoRelease;
    normalizeCode(raw, r.code);
    return r;
  }
  return check(**set, raw, date);
}

CheckResult CodeChecker::check(const CodeSet& set, std::string_view raw,
                               std::optional<ServiceDate> date) const {
  CheckResult r;
  r.set = &set;
  if (!normalizeCode(raw, r.code)) {
    r.status = CheckStatus::kMalformed;
    return r;
  }
  r.entry = set.find(r.code.key());
  const bool icd10 = set.system() == CodeSystem::kIcd10Cm;
  if (r.entry != nullptr) {
    if (set.system() == CodeSystem::kHcpcs && date) {
      uint32_t d = date->ordinal();
      if (r.entry->effective != 0 && d < r.entry->effective) {
        r.status = CheckStatus::kNotYetEffective;
        return r;
      }
      if (r.entry->terminated != 0 && d > r.entry->terminated) {
        r.status = CheckStatus::kTerminated;
        return r;
      }
    }
    if (r.entry->billable()) {
      r.status = CheckStatus::kValid;
      return r;
    }
    r.status = CheckStatus::kHeader;
    if (icd10 && r.code.length < 7 && needsSeventh(set, r.code.view())) {
      r.status = CheckStatus::kSeventhMissing;
    }
    return r;
  }
  r.status = CheckStatus::kNotInRelease;
  if (!icd10 || r.code.length < 4) return r;
  const char last = r.code.chars[r.code.length - 1];
  const bool letter = last >= 'A' && last <= 'Z';
  if (r.code.length == 7) {
    // The first six characters exist: the 7th is not one this code takes.
    if (const CodeEntry* e6 = set.find(r.code.view().substr(0, 6))) {
      if (!e6->billable() && needsSeventh(set, r.code.view().substr(0, 6))) {
        r.status = CheckStatus::kSeventhInvalid;
      }
    }
    return r;
  }
  if (r.code.length <= 6) {
    // S0990X / S0990: placeholders given (or not) but no 7th character.
    PlainCode padded = r.code;
    while (padded.length < 6) padded.chars[padded.length++] = 'X';
    if (needsSeventh(set, padded.view())) {
      r.status = CheckStatus::kSeventhMissing;
      return r;
    }
  }
  if (letter) {
    // Maybe the X placeholders were left out: S0990A -> S0990XA.
    PlainCode fixed;
    for (int i = 0; i < r.code.length - 1; ++i) fixed.chars[fixed.length++] = r.code.chars[i];
    while (fixed.length < 6) fixed.chars[fixed.length++] = 'X';
    fixed.chars[fixed.length++] = last;
    const CodeEntry* e = set.find(fixed.key());
    if (e != nullptr && e->billable()) {
      r.status = CheckStatus::kPlaceholderMissing;
      r.suggestion = fixed;
    }
  }
  return r;
}

CheckDetails CodeChecker::describe(const CheckResult& r) const {
  CheckDetails d;
  char buf[16];
  CodeSystem system = r.set ? r.set->system() : CodeSystem::kIcd10Cm;
  d.dotted = std::string(dottedForm(system, r.code.view(), buf));
  const std::string release = r.set ? r.set->release().name : std::string("none");
  auto dotted = [&](std::string_view undotted) {
    char b[16];
    return std::string(dottedForm(system, undotted, b));
  };
  switch (r.status) {
    case CheckStatus::kValid: d.message = "valid and billable in " + release; break;
    case CheckStatus::kHeader:
      d.message = "a category header in " + release + ": add characters to reach a billable code";
      break;
    case CheckStatus::kSeventhMissing:
      d.message = "a 7th character is required (use X placeholders to reach 6 characters)";
      break;
    case CheckStatus::kPlaceholderMissing:
      d.message = "the X placeholder is missing before the 7th character; did you mean " +
                  dotted(r.suggestion.view()) + "?";
      break;
    case CheckStatus::kSeventhInvalid: d.message = "this 7th character is not defined for the code"; break;
    case CheckStatus::kNotInRelease: d.message = "not a code in " + release; break;
    case CheckStatus::kNotYetEffective: d.message = "not yet effective on the date of service"; break;
    case CheckStatus::kTerminated: d.message = "terminated before the date of service"; break;
    case CheckStatus::kMalformed: d.message = "not a code (empty, too long or bad characters)"; break;
    case CheckStatus::kNoRelease: d.message = "no release of this code system is loaded for that date"; break;
  }
  if (r.set != nullptr && (r.status == CheckStatus::kHeader || r.status == CheckStatus::kSeventhMissing ||
                           r.status == CheckStatus::kSeventhInvalid)) {
    std::string_view prefix = r.code.view();
    if (r.status == CheckStatus::kSeventhInvalid) prefix = prefix.substr(0, 6);
    for (const CodeEntry& e : r.set->withPrefix(prefix)) {
      if (!e.billable()) continue;
      PlainCode c = unpackCode(e.key);
      if (d.children.size() < 12) d.children.push_back(dotted(c.view()));
      if (c.length == 7 && r.status != CheckStatus::kHeader) {
        std::string seventh(1, c.chars[6]);
        bool seen = false;
        for (const auto& s : d.seventh_characters) seen = seen || s == seventh;
        if (!seen) d.seventh_characters.push_back(seventh);
      }
    }
  }
  if (system == CodeSystem::kIcd10Cm && r.status != CheckStatus::kValid && r.code.length > 0) {
    for (const auto& s : sets_.icd10cmReleases()) {
      const CodeEntry* e = s->find(r.code.key());
      if (e != nullptr && e->billable()) d.other_releases.push_back(s->release().name);
    }
  }
  return d;
}

}  // namespace courier::coding
