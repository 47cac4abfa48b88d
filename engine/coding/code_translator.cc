#include "engine/coding/code_translator.h"

namespace courier::coding {

namespace {

AssignedCode fromCheck(const CheckResult& r, CodingMethod method, double confidence, std::string why) {
  AssignedCode a;
  char buf[16];
  a.system = r.set->system();
  a.code = std::string(dottedForm(a.system, r.code.view(), buf));
  a.display = std::string(r.display());
  a.method = method;
  a.confidence = confidence;
  a.release = r.set->release().name;
  a.why = std::move(why);
  return a;
}

std::string dottedIcd9(uint64_t key) {
  char buf[16];
  return std::string(dottedForm(CodeSystem::kIcd9Cm, unpackCode(key).view(), buf));
}

}  // namespace

CodingResult CodeTranslator::fromSource(CodeSystem system, std::string_view raw,
                                        std::optional<ServiceDate> date) const {
  CodingResult out;
  CheckResult r = checker_.check(system, raw, date);
  if (r.set != nullptr) out.release = r.set->release().name;
  if (r.valid()) {
    char buf[16];
    std::string_view dotted = dottedForm(system, r.code.view(), buf);
    bool as_sent = dotted == raw;
    out.codes.push_back(fromCheck(r, as_sent ? CodingMethod::kSource : CodingMethod::kNormalized, 1.0,
                                  as_sent ? "valid as sent" : "reformatted from the code as sent"));
    return out;
  }
  CheckDetails d = checker_.describe(r);
  out.review = true;
  out.reason = "code as sent is not billable: " + d.message;
  if (r.suggestion.length > 0) {
    CheckResult s = checker_.check(*r.set, r.suggestion.view(), date);
    if (s.valid()) out.alternatives.push_back(fromCheck(s, CodingMethod::kNormalized, 0.8, "X placeholder added"));
  }
  if (r.set != nullptr) {
    for (const auto& child : d.children) {
      if (out.alternatives.size() >= 5) break;
      CheckResult c = checker_.check(*r.set, child, date);
      if (c.valid()) out.alternatives.push_back(fromCheck(c, CodingMethod::kNormalized, 0.3, "billable code under the header"));
    }
  }
  out.query = "The code sent is not valid for the date of service. Please provide the complete, current code.";
  return out;
}

CodingResult CodeTranslator::fromIcd9(std::string_view raw, std::optional<ServiceDate> date) const {
  CodingResult out;
  auto release = sets_.releaseFor(CodeSystem::kIcd10Cm, date);
  if (!release) {
    out.review = true;
    out.reason = release.error().message;
    return out;
  }
  const CodeSet& set = **release;
  out.release = set.release().name;
  PlainCode code;
  if (gems_ == nullptr || !normalizeCode(raw, code)) {
    out.review = true;
    out.reason = gems_ == nullptr ? "no GEM is loaded" : "not an ICD-9-CM code";
    return out;
  }
  auto rows = gems_->targets(code.view());
  if (rows.empty()) {
    out.review = true;
    out.reason = "ICD-9-CM code not in the GEM (it may be a header or not exist)";
    out.query = "The legacy ICD-9-CM code could not be translated. Please provide the ICD-10-CM diagnosis.";
    return out;
  }
  const std::string source = dottedIcd9(rows[0].source);
  if (rows[0].no_map) {
    out.review = true;
    out.reason = "the GEM has no ICD-10-CM equivalent for " + source;
    out.query = "The legacy code " + source + " has no ICD-10-CM equivalent. Please document the diagnosis.";
    return out;
  }
  // Translate each row's target to a billable code of the release in force.
  std::vector<AssignedCode> targets;
  bool all_valid = true;
  for (const GemEntry& e : rows) {
    PlainCode t = unpackCode(e.target);
    CheckResult r = checker_.check(set, t.view(), date);
    std::string why = "GEM 2018 " + source + (e.approximate ? " (approximate)" : "") +
                      (e.combination ? " scenario " + std::to_string(e.scenario) + " choice " +
                                           std::to_string(e.choice_list)
                                     : std::string());
    if (r.valid()) {
      targets.push_back(fromCheck(r, CodingMethod::kGem, e.approximate ? 0.6 : 0.95, why));
    } else {
      all_valid = false;
      // The 2018 target may have been split since: offer its billable children.
      for (const auto& child : checker_.describe(r).children) {
        CheckResult c = checker_.check(set, child, date);
        if (c.valid()) out.alternatives.push_back(fromCheck(c, CodingMethod::kGem, 0.3, why + ", code since expanded"));
      }
    }
  }
  bool combination = rows[0].combination;
  if (rows.size() == 1 && !rows[0].approximate && all_valid) {
    out.codes = std::move(targets);
    return out;
  }
  out.review = true;
  if (!all_valid) {
    out.reason = "the GEM target is no longer a billable code in " + set.release().name;
  } else if (combination) {
    out.reason = "the GEM maps " + source + " to a combination of codes; a coder must confirm the scenario";
  } else if (rows.size() > 1) {
    out.reason = "the GEM maps " + source + " to several ICD-10-CM codes (one-to-many)";
  } else {
    out.reason = "the GEM map for " + source + " is approximate";
  }
  out.query = "The legacy diagnosis code " + source +
              " does not translate to exactly one ICD-10-CM code. Please document the diagnosis specifically.";
  if (combination) {
    // Scenario 1, in choice-list order, is the proposed combination.
    for (auto& t : targets) {
      if (t.why.find("scenario 1 ") != std::string::npos) out.codes.push_back(t);
    }
  } else if (rows.size() == 1) {
    out.codes = std::move(targets);  // an approximate single map: proposed, under review
  } else {
    for (auto& t : targets) out.alternatives.push_back(std::move(t));
  }
  return out;
}

CodingResult CodeTranslator::fromCrosswalk(const Crosswalk& crosswalk, std::string_view source_system,
                                           std::string_view source_code, std::optional<ServiceDate> date) const {
  CodingResult out;
  auto targets = crosswalk.lookup(source_system, source_code);
  std::vector<const CrosswalkTarget*> usable;
  for (const auto* t : targets) {
    if (!isNoMap(t->equivalence)) usable.push_back(t);
  }
  if (usable.empty()) {
    out.review = true;
    out.reason = targets.empty() ? "the local code is not in the crosswalk" : "the crosswalk says the local code has no equivalent";
    out.query = "A local code could not be translated to a standard code. Please add it to the crosswalk or code it.";
    return out;
  }
  bool exact = usable.size() == 1 && isExact(usable[0]->equivalence);
  for (const auto* t : usable) {
    CheckResult r = checker_.check(t->system, t->code, date);
    if (r.set != nullptr && out.release.empty()) out.release = r.set->release().name;
    if (!r.valid()) {
      exact = false;
      out.reason = "the crosswalk target " + t->code + " is not billable on the date of service (" +
                   std::string(checkStatusName(r.status)) + ")";
      continue;
    }
    AssignedCode a = fromCheck(r, CodingMethod::kCrosswalk, isExact(t->equivalence) ? 0.98 : 0.5,
                               "crosswalk, " + std::string(equivalenceName(t->equivalence)));
    bool modifiers_ok = true;
    for (const auto& m : t->modifiers) {
      CheckResult mr = checker_.check(CodeSystem::kHcpcs, m, date);
      if (!mr.valid() || mr.entry == nullptr || !mr.entry->modifier()) modifiers_ok = false;
      a.modifiers.push_back(m);
    }
    if (!modifiers_ok) {
      exact = false;
      out.reason = "a crosswalk modifier is not a current HCPCS Level II modifier";
    }
    (isExact(t->equivalence) && usable.size() == 1 ? out.codes : out.alternatives).push_back(std::move(a));
  }
  if (!exact) {
    out.review = true;
    if (out.reason.empty()) {
      out.reason = usable.size() > 1 ? "the crosswalk maps the local code to several codes"
                                     : "the crosswalk equivalence is " + std::string(equivalenceName(usable[0]->equivalence)) +
                                           ", not equivalent";
    }
    out.query = "The local code does not map to exactly one equivalent standard code. Please choose the code.";
  }
  return out;
}

}  // namespace courier::coding
