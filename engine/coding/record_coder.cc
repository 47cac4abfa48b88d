#include "engine/coding/record_coder.h"

#include <algorithm>
#include <filesystem>
#include <future>
#include <string_view>
#include <utility>

#include "engine/coding/code_checker.h"
#include "engine/coding/code_sets.h"
#include "engine/coding/code_translator.h"
#include "engine/coding/crosswalk.h"
#include "engine/coding/gem_map.h"
#include "engine/coding/text_coder.h"

namespace courier::coding {

std::string_view codedItemKindName(CodedItemKind kind) {
  switch (kind) {
    case CodedItemKind::kDiagnosis: return "diagnosis";
    case CodedItemKind::kProcedure: return "procedure";
    case CodedItemKind::kCharge: return "charge";
  }
  return "unknown";
}

namespace {

bool anyReview(const std::vector<CodingResult>& items) {
  return std::any_of(items.begin(), items.end(), [](const CodingResult& r) { return r.review; });
}

bool allCoded(const std::vector<CodingResult>& items) {
  return std::all_of(items.begin(), items.end(),
                     [](const CodingResult& r) { return !r.review && !r.codes.empty(); });
}

}  // namespace

bool CodedRecord::needsReview() const {
  return anyReview(diagnoses) || anyReview(procedures) || anyReview(charges);
}

bool CodedRecord::allBillable() const {
  if (diagnoses.empty() && procedures.empty() && charges.empty()) return false;
  return allCoded(diagnoses) && allCoded(procedures) && allCoded(charges);
}

std::vector<const AssignedCode*> CodedRecord::allCodes() const {
  std::vector<const AssignedCode*> out;
  for (const auto* items : {&diagnoses, &procedures, &charges}) {
    for (const CodingResult& r : *items) {
      for (const AssignedCode& c : r.codes) out.push_back(&c);
    }
  }
  return out;
}

namespace {

// The code system a sender named, in any of the spellings seen in the wild: HL7 table
// 0396 names ("I10", "I9C"), the names people type ("ICD-10-CM"), FHIR URIs and OIDs.
enum class SentSystem { kNone, kIcd10Cm, kIcd9Cm, kIcd10Pcs, kHcpcs, kCpt, kIcd9Proc, kOther };

constexpr std::string_view kCptNotLicensed = "CPT is not licensed in Courier's code sets";

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

SentSystem classifyOid(std::string_view oid) {
  if (oid == "2.16.840.1.113883.6.90" || oid == "2.16.840.1.113883.6.3") return SentSystem::kIcd10Cm;
  if (oid == "2.16.840.1.113883.6.103" || oid == "2.16.840.1.113883.6.2") return SentSystem::kIcd9Cm;
  if (oid == "2.16.840.1.113883.6.104") return SentSystem::kIcd9Proc;
  if (oid == "2.16.840.1.113883.6.4") return SentSystem::kIcd10Pcs;
  if (oid == "2.16.840.1.113883.6.285" || oid == "2.16.840.1.113883.6.14") return SentSystem::kHcpcs;
  if (oid == "2.16.840.1.113883.6.12") return SentSystem::kCpt;
  return SentSystem::kOther;
}

SentSystem classifySystem(std::string_view raw) {
  std::string_view s = trim(raw);
  if (s.empty()) return SentSystem::kNone;
  if (s.size() > 8 && equalsIgnoreCase(s.substr(0, 8), "urn:oid:")) return classifyOid(s.substr(8));
  if (s.find("://") != std::string_view::npos) {
    if (auto sys = codeSystemFromUri(s)) {
      switch (*sys) {
        case CodeSystem::kIcd10Cm: return SentSystem::kIcd10Cm;
        case CodeSystem::kIcd10Pcs: return SentSystem::kIcd10Pcs;
        case CodeSystem::kHcpcs: return SentSystem::kHcpcs;
        case CodeSystem::kIcd9Cm: return SentSystem::kIcd9Cm;
      }
    }
    if (equalsIgnoreCase(s, "http://www.ama-assn.org/go/cpt")) return SentSystem::kCpt;
    if (equalsIgnoreCase(s, "http://hl7.org/fhir/sid/icd-9-cm/diagnosis")) return SentSystem::kIcd9Cm;
    if (equalsIgnoreCase(s, "http://hl7.org/fhir/sid/icd-9-cm/procedure")) return SentSystem::kIcd9Proc;
    return SentSystem::kOther;
  }
  if (s.front() >= '0' && s.front() <= '9' && s.find('.') != std::string_view::npos) return classifyOid(s);
  // Compact form: upper case without '-', '_', ' ', '.' ("ICD-10-CM" -> "ICD10CM").
  char buf[24];
  size_t n = 0;
  for (char c : s) {
    if (c == '-' || c == '_' || c == ' ' || c == '.') continue;
    if (n == sizeof buf) return SentSystem::kOther;
    buf[n++] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  std::string_view k(buf, n);
  // Table 0396 "I10" is ICD-10 (WHO) but US senders use it for ICD-10-CM; the code is
  // checked against ICD-10-CM either way.
  for (std::string_view name : {"I10", "I10C", "I10CM", "ICD10", "ICD10CM", "ICD10DX"}) {
    if (k == name) return SentSystem::kIcd10Cm;
  }
  for (std::string_view name : {"I9", "I9C", "I9CM", "I9CDX", "ICD9", "ICD9C", "ICD9CM", "ICD9DX", "ICD9CMDX"}) {
    if (k == name) return SentSystem::kIcd9Cm;
  }
  for (std::string_view name : {"I9CP", "ICD9P", "ICD9PCS", "ICD9CMP", "ICD9PROC"}) {
    if (k == name) return SentSystem::kIcd9Proc;
  }
  for (std::string_view name : {"I10P", "I10PCS", "ICD10P", "ICD10PCS"}) {
    if (k == name) return SentSystem::kIcd10Pcs;
  }
  for (std::string_view name : {"HCPCS", "HPC", "HCPCSII", "HCPCS2", "HCPCSL2", "HCPCSLEVELII", "CMSHCPCS"}) {
    if (k == name) return SentSystem::kHcpcs;
  }
  for (std::string_view name : {"C4", "C5", "CPT", "CPT4", "CPTIV", "CPT5", "AMACPT"}) {
    if (k == name) return SentSystem::kCpt;
  }
  return SentSystem::kOther;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isAlpha(char c) { return c >= 'A' && c <= 'Z'; }

// Shapes, for codes sent without a system. Only the shape: the code sets decide validity.
bool looksLikeIcd10Cm(const PlainCode& c) {
  return c.length >= 3 && c.length <= 7 && isAlpha(c.chars[0]) && isDigit(c.chars[1]);
}
bool looksLikeCpt(const PlainCode& c) {  // 99213, 0001F, 0042T, 0001U
  if (c.length != 5) return false;
  for (int i = 0; i < 4; ++i) {
    if (!isDigit(c.chars[i])) return false;
  }
  char last = c.chars[4];
  return isDigit(last) || last == 'F' || last == 'T' || last == 'U';
}
bool looksLikeHcpcs(const PlainCode& c) {  // J1100
  return c.length == 5 && isAlpha(c.chars[0]) && isDigit(c.chars[1]) && isDigit(c.chars[2]) &&
         isDigit(c.chars[3]) && isDigit(c.chars[4]);
}
bool looksLikePcs(const PlainCode& c) { return c.length == 7; }

PlainCode plain(std::string_view raw) {
  PlainCode c;
  normalizeCode(raw, c);
  return c;
}

std::optional<ServiceDate> dateOf(const record::Sourced& s) {
  if (s.value.empty()) return std::nullopt;
  auto d = parseServiceDate(s.value);
  if (!d) return std::nullopt;
  return *d;
}

CodingResult reviewItem(std::string reason, std::string query = {}) {
  CodingResult r;
  r.review = true;
  r.reason = std::move(reason);
  r.query = std::move(query);
  return r;
}

AssignedCode assigned(const CheckResult& r, CodingMethod method, double confidence, std::string why) {
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

}  // namespace

std::optional<ServiceDate> recordDateOfService(const record::CanonicalRecord& rec) {
  if (rec.has_encounter && rec.encounter.patient_class.value == "I") {
    if (auto d = dateOf(rec.encounter.discharge_time)) return d;
  }
  for (const auto& c : rec.charges) {
    if (auto d = dateOf(c.transaction_date)) return d;
  }
  if (rec.has_encounter) {
    if (auto d = dateOf(rec.encounter.admit_time)) return d;
  }
  for (const auto& dx : rec.diagnoses) {
    if (auto d = dateOf(dx.time)) return d;
  }
  return dateOf(rec.sent_time);
}

struct RecordCoder::Impl {
  std::unique_ptr<CodeSets> sets;
  std::unique_ptr<TextCoder> text;
  std::unique_ptr<GemMap> gems;
  std::vector<Crosswalk> crosswalks;
  std::unique_ptr<CodeTranslator> translator;
  std::unique_ptr<CodeChecker> checker;

  struct Context {
    std::optional<ServiceDate> date;
    EncounterSetting setting = EncounterSetting::kOutpatient;
  };

  // The first crosswalk that knows the code (for `system`, or any system when
  // `any_system`), translated; nullopt when none does.
  std::optional<CodingResult> viaCrosswalk(std::string_view system, std::string_view code,
                                           std::optional<ServiceDate> date, bool any_system) const {
    for (const Crosswalk& cw : crosswalks) {
      if (!cw.lookup(system, code).empty()) return translator->fromCrosswalk(cw, system, code, date);
    }
    if (any_system && !system.empty()) {
      for (const Crosswalk& cw : crosswalks) {
        if (!cw.lookup("", code).empty()) return translator->fromCrosswalk(cw, "", code, date);
      }
    }
    return std::nullopt;
  }

  CodingResult fromText(std::string_view text, const Context& ctx) const {
    TextCodingOptions opt;
    opt.date = ctx.date;
    opt.setting = ctx.setting;
    CodingResult r = this->text->code(text, opt);
    if (r.codes.empty() && !r.review) {
      // Negated, or uncertain in an outpatient record: the coder codes nothing, but a
      // diagnosis was sent, so a person decides what (if anything) goes on the claim.
      r.review = true;
      if (r.reason.empty()) r.reason = "no code could be assigned from the text";
    }
    return r;
  }

  // A sent ICD-10-CM code that is not billable: review, with codes proposed from the
  // text when there is text.
  CodingResult sourceOrText(CodingResult source, std::string_view text, const Context& ctx) const {
    if (!source.review || text.empty()) return source;
    CodingResult t = this->text->code(text, TextCodingOptions{ctx.date, ctx.setting});
    source.codes = std::move(t.codes);
    for (auto& a : t.alternatives) source.alternatives.push_back(std::move(a));
    if (!source.codes.empty()) source.reason += "; codes proposed from the diagnosis text";
    return source;
  }

  CodingResult diagnosis(const record::Diagnosis& d, const Context& ctx) const {
    const std::string& code = d.code.code.value;
    std::string_view text = !d.text.empty() ? std::string_view(d.text.value) : std::string_view(d.code.display.value);
    if (!code.empty()) {
      const std::string& system = d.code.system.value;
      switch (classifySystem(system)) {
        case SentSystem::kIcd10Cm:
          return sourceOrText(translator->fromSource(CodeSystem::kIcd10Cm, code, ctx.date), text, ctx);
        case SentSystem::kIcd9Cm:
          return translator->fromIcd9(code, ctx.date);
        case SentSystem::kNone:
          if (auto r = viaCrosswalk("", code, ctx.date, false)) return std::move(*r);
          if (looksLikeIcd10Cm(plain(code))) {
            return sourceOrText(translator->fromSource(CodeSystem::kIcd10Cm, code, ctx.date), text, ctx);
          }
          break;
        default:
          if (auto r = viaCrosswalk(system, code, ctx.date, false)) return std::move(*r);
          break;
      }
    }
    if (!text.empty()) return fromText(text, ctx);
    return reviewItem(code.empty() ? "the diagnosis has neither a code nor text"
                                   : "the diagnosis code's system is not ICD-10-CM or ICD-9-CM, no crosswalk "
                                     "maps it, and there is no text to code",
                      "Please provide the ICD-10-CM code or the diagnosis in words.");
  }

  CodingResult procedure(const record::Procedure& p, const Context& ctx) const {
    const std::string& code = p.code.code.value;
    if (code.empty()) {
      return reviewItem("procedures are coded from a sent ICD-10-PCS or HCPCS code; this one has only text",
                        "Please provide the ICD-10-PCS or HCPCS code of the procedure.");
    }
    const std::string& system = p.code.system.value;
    SentSystem sys = classifySystem(system);
    if (sys == SentSystem::kNone || sys == SentSystem::kCpt || sys == SentSystem::kOther) {
      if (auto r = viaCrosswalk(system, code, ctx.date, false)) return std::move(*r);
    }
    PlainCode shape = plain(code);
    if (sys == SentSystem::kCpt || (sys == SentSystem::kNone && looksLikeCpt(shape))) {
      return reviewItem(std::string(kCptNotLicensed),
                        "The procedure came as a CPT code. Please provide the HCPCS Level II or ICD-10-PCS code, "
                        "or add the CPT code to the site crosswalk.");
    }
    if (sys == SentSystem::kIcd10Pcs || (sys == SentSystem::kNone && looksLikePcs(shape))) {
      CodingResult r = translator->fromSource(CodeSystem::kIcd10Pcs, code, ctx.date);
      int fy = sets->icd10pcs().release().fiscal_year;
      if (!r.review && ctx.date && fy != 0 && fy != fiscalYear(*ctx.date)) {
        r.review = true;
        r.reason = "no ICD-10-PCS release for FY" + std::to_string(fiscalYear(*ctx.date)) +
                   " is loaded; the code is valid in " + sets->icd10pcs().release().name;
      }
      return r;
    }
    if (sys == SentSystem::kHcpcs || (sys == SentSystem::kNone && looksLikeHcpcs(shape))) {
      return translator->fromSource(CodeSystem::kHcpcs, code, ctx.date);
    }
    if (sys == SentSystem::kIcd9Proc) {
      return reviewItem("ICD-9-CM procedure codes are not translated (no procedure GEM is loaded)",
                        "Please provide the ICD-10-PCS code of the procedure.");
    }
    return reviewItem("the procedure code's system is not ICD-10-PCS or HCPCS and no crosswalk maps it",
                      "Please provide the ICD-10-PCS or HCPCS code of the procedure.");
  }

  CodingResult charge(const record::Charge& c, const Context& ctx) const {
    std::optional<ServiceDate> date = dateOf(c.transaction_date);
    if (!date) date = ctx.date;
    CodingResult out;
    const std::string& hcpcs = c.hcpcs.code.value;
    const std::string& cdm = c.chargemaster.code.value;
    if (!hcpcs.empty()) {
      const std::string& system = c.hcpcs.system.value;
      SentSystem sys = classifySystem(system);
      if (sys == SentSystem::kCpt || looksLikeCpt(plain(hcpcs))) {
        auto r = viaCrosswalk(system, hcpcs, date, false);
        out = r ? std::move(*r)
                : reviewItem(std::string(kCptNotLicensed),
                             "The charge came with a CPT code. Please provide the HCPCS Level II code, or add the "
                             "CPT code to the site crosswalk.");
      } else if (sys == SentSystem::kOther) {
        auto r = viaCrosswalk(system, hcpcs, date, false);
        out = r ? std::move(*r) : translator->fromSource(CodeSystem::kHcpcs, hcpcs, date);
      } else {
        out = translator->fromSource(CodeSystem::kHcpcs, hcpcs, date);
      }
    } else if (!cdm.empty()) {
      // FT1-7 is the chargemaster item whatever system label it carries.
      auto r = viaCrosswalk(c.chargemaster.system.value, cdm, date, true);
      out = r ? std::move(*r)
              : reviewItem("the chargemaster code (FT1-7) is not in any site crosswalk",
                           "A charge has no HCPCS code and its chargemaster item is not mapped. Please add it to "
                           "the crosswalk or code it.");
    } else {
      out = reviewItem("the charge has neither a HCPCS code (FT1-25) nor a chargemaster code (FT1-7)");
    }
    addModifiers(out, c.modifiers, date);
    return out;
  }

  // FT1-26 modifiers go on the charge's code after the crosswalk's own. HCPCS Level II
  // modifiers must be current; two-digit CPT modifiers (25, 59) are carried unchecked
  // since CPT is not in Courier's code sets.
  void addModifiers(CodingResult& out, const std::vector<record::Sourced>& modifiers,
                    std::optional<ServiceDate> date) const {
    for (const auto& m : modifiers) {
      PlainCode p = plain(m.value);
      if (p.length == 0) continue;
      bool cpt_modifier = p.length == 2 && isDigit(p.chars[0]) && isDigit(p.chars[1]);
      if (!cpt_modifier) {
        CheckResult r = checker->check(CodeSystem::kHcpcs, p.view(), date);
        if (!r.valid() || r.entry == nullptr || !r.entry->modifier()) {
          out.review = true;
          std::string why = "modifier " + std::string(p.view()) + " (FT1-26) is not a current HCPCS Level II modifier";
          out.reason = out.reason.empty() ? why : out.reason + "; " + why;
          continue;
        }
      }
      for (auto& code : out.codes) {
        if (std::find(code.modifiers.begin(), code.modifiers.end(), p.view()) == code.modifiers.end()) {
          code.modifiers.emplace_back(p.view());
        }
      }
    }
  }

  void applyOverride(CodingResult& item, const CodeOverride& o, std::optional<ServiceDate> date,
                     const record::Charge* charge) const {
    if (o.codes.empty()) {
      item.review = true;
      item.reason = "the reviewer's decision has no codes";
      return;
    }
    std::vector<AssignedCode> codes;
    std::string release;
    for (const std::string& raw : o.codes) {
      CodeSystem system = CodeSystem::kIcd10Cm;
      if (o.kind == CodedItemKind::kCharge) system = CodeSystem::kHcpcs;
      if (o.kind == CodedItemKind::kProcedure) {
        system = looksLikePcs(plain(raw)) ? CodeSystem::kIcd10Pcs : CodeSystem::kHcpcs;
      }
      CheckResult r = checker->check(system, raw, date);
      if (!r.valid()) {
        // The item keeps what the coder proposed; the worklist shows why the decision
        // was not taken.
        item.review = true;
        item.reason = "the reviewer's code " + std::string(trim(raw)) + " is not valid for the date of service: " +
                      checker->describe(r).message;
        return;
      }
      if (release.empty()) release = r.set->release().name;
      codes.push_back(assigned(r, CodingMethod::kReviewed, 1.0,
                               o.reviewer.empty() ? std::string("reviewed") : "reviewed by " + o.reviewer));
    }
    item.codes = std::move(codes);
    item.alternatives.clear();
    item.review = false;
    item.reason.clear();
    item.query.clear();
    item.release = std::move(release);
    if (charge != nullptr) addModifiers(item, charge->modifiers, date);
  }
};

RecordCoder::RecordCoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RecordCoder::~RecordCoder() = default;

Result<std::unique_ptr<RecordCoder>> RecordCoder::load(const std::string& mappings_dir) {
  return load(mappings_dir, RecordCoderOptions{});
}

Result<std::unique_ptr<RecordCoder>> RecordCoder::load(const std::string& mappings_dir,
                                                       const RecordCoderOptions& options) {
  std::vector<std::string> crosswalk_files;
  if (options.crosswalk_files) {
    crosswalk_files = *options.crosswalk_files;
  } else {
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::path(mappings_dir) / "crosswalks";
    if (std::filesystem::is_directory(dir, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        auto ends = [&](std::string_view suffix) {
          return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
        };
        if (e.is_regular_file(ec) && (ends(".csv") || ends(".csv.gz") || ends(".json"))) {
          crosswalk_files.push_back(e.path().string());
        }
      }
      std::sort(crosswalk_files.begin(), crosswalk_files.end());
    }
  }

  // Site crosswalks are small: read them first, so a bad one fails before the big loads.
  std::vector<Crosswalk> crosswalks;
  for (const auto& path : crosswalk_files) {
    auto cw = Crosswalk::load(path);
    if (!cw) return Unexpected(cw.error());
    crosswalks.push_back(std::move(*cw));
  }
  // The GEMs do not need the code sets: read them on a helper thread while the code
  // sets load and the text coder is built.
  auto gems_future = std::async(std::launch::async, [&mappings_dir] {
    return GemMap::load(mappings_dir + "/codesets/gem_2018_i9_to_i10.txt.gz");
  });
  auto impl = std::make_unique<Impl>();
  auto sets = CodeSets::load(mappings_dir + "/codesets");
  Result<std::unique_ptr<TextCoder>> text = Unexpected(Error(ErrorCode::kInternal, "not built"));
  if (sets) text = TextCoder::build(**sets, mappings_dir);
  Result<GemMap> gems = gems_future.get();
  if (!sets) return Unexpected(sets.error());
  if (!text) return Unexpected(text.error());
  if (!gems) return Unexpected(gems.error());

  impl->sets = std::move(*sets);
  impl->text = std::move(*text);
  impl->gems = std::make_unique<GemMap>(std::move(*gems));
  impl->crosswalks = std::move(crosswalks);
  impl->translator = std::make_unique<CodeTranslator>(*impl->sets, impl->gems.get());
  impl->checker = std::make_unique<CodeChecker>(*impl->sets);
  return std::unique_ptr<RecordCoder>(new RecordCoder(std::move(impl)));
}

CodedRecord RecordCoder::code(const record::CanonicalRecord& rec, std::span<const CodeOverride> overrides) const {
  const Impl& im = *impl_;
  CodedRecord out;
  out.date_of_service = recordDateOfService(rec);
  Impl::Context ctx;
  ctx.date = out.date_of_service;
  if (rec.has_encounter && rec.encounter.patient_class.value == "I") ctx.setting = EncounterSetting::kInpatient;

  out.diagnoses.reserve(rec.diagnoses.size());
  for (const auto& d : rec.diagnoses) out.diagnoses.push_back(im.diagnosis(d, ctx));
  out.procedures.reserve(rec.procedures.size());
  for (const auto& p : rec.procedures) out.procedures.push_back(im.procedure(p, ctx));
  out.charges.reserve(rec.charges.size());
  for (const auto& c : rec.charges) out.charges.push_back(im.charge(c, ctx));

  for (const CodeOverride& o : overrides) {
    switch (o.kind) {
      case CodedItemKind::kDiagnosis:
        if (o.index < out.diagnoses.size()) im.applyOverride(out.diagnoses[o.index], o, ctx.date, nullptr);
        break;
      case CodedItemKind::kProcedure:
        if (o.index < out.procedures.size()) im.applyOverride(out.procedures[o.index], o, ctx.date, nullptr);
        break;
      case CodedItemKind::kCharge:
        if (o.index < out.charges.size()) {
          const record::Charge& c = rec.charges[o.index];
          std::optional<ServiceDate> date = dateOf(c.transaction_date);
          im.applyOverride(out.charges[o.index], o, date ? date : ctx.date, &c);
        }
        break;
    }
  }

  if (!out.date_of_service) {
    // Without a date the release in force is unknown: what was checked against the
    // newest release is only a proposal.
    for (auto* items : {&out.diagnoses, &out.procedures, &out.charges}) {
      for (CodingResult& r : *items) {
        r.review = true;
        r.reason = r.reason.empty() ? "the record has no date of service; codes checked against the newest release"
                                    : "the record has no date of service; " + r.reason;
      }
    }
  }
  return out;
}

}  // namespace courier::coding
