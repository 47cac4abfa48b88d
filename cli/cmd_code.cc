// courier code: check and normalize codes, and propose ICD-10-CM codes for text.
//
//   courier code --check E119 [--system icd10cm|hcpcs|icd10pcs] [--date 2026-03-01]
//   courier code --text "T2DM w/ CKD stage 3a" [--date …] [--setting outpatient|inpatient]
//   courier code --file phrases.txt [...]      one JSON object per input line
//   courier code --record msg.hl7 [--crosswalk cdm.csv]   every diagnosis, procedure and charge
//                                              of each message (HL7 v2 or FHIR JSON), one JSON object
//                                              per message
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cli/commands.h"
#include "cli/input.h"
#include "engine/coding/code_checker.h"
#include "engine/coding/code_sets.h"
#include "engine/coding/mappings_dir.h"
#include "engine/coding/code_translator.h"
#include "engine/coding/record_coder.h"
#include "engine/coding/text_coder.h"
#include "engine/record/from_bytes.h"

namespace courier::cli {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using namespace courier::coding;

struct CodeOptions {
  std::string check;
  std::string text;
  std::string file;
  std::string system = "icd10cm";
  std::string date;
  std::string setting = "outpatient";
  std::string mappings;
  std::string icd9;
  std::string crosswalk;
  std::string local;
  std::string record;
};

void key(Writer& w, const char* k) { w.Key(k); }
void str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

int runCheck(const CodeOptions& o, const CodeSets& sets, std::optional<ServiceDate> date) {
  auto system = parseCodeSystem(o.system);
  if (!system || *system == CodeSystem::kIcd9Cm) {
    std::fprintf(stderr, "courier code: --system must be icd10cm, icd10pcs or hcpcs\n");
    return 2;
  }
  CodeChecker checker(sets);
  CheckResult r = checker.check(*system, o.check, date);
  CheckDetails d = checker.describe(r);
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  key(w, "input"); str(w, o.check);
  key(w, "system"); str(w, codeSystemName(*system));
  key(w, "status"); str(w, checkStatusName(r.status));
  key(w, "valid"); w.Bool(r.valid());
  key(w, "in_release"); w.Bool(r.inRelease());
  key(w, "billable"); w.Bool(r.billable());
  key(w, "normalized");
  if (r.code.length > 0) str(w, d.dotted); else w.Null();
  key(w, "display"); str(w, r.display());
  key(w, "message"); str(w, d.message);
  if (r.suggestion.length > 0) {
    char buf[16];
    key(w, "suggestion"); str(w, dottedForm(*system, r.suggestion.view(), buf));
  }
  if (r.set != nullptr) {
    key(w, "release"); str(w, r.set->release().name);
    key(w, "release_official"); w.Bool(r.set->release().official);
    if (date && r.set->release().fiscal_year != 0 && r.set->release().fiscal_year != fiscalYear(*date)) {
      key(w, "release_note");
      str(w, "no release for fiscal year " + std::to_string(fiscalYear(*date)) +
                 " is loaded; checked against the nearest one");
    }
  }
  key(w, "date_of_service");
  if (date) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", date->year, date->month, date->day);
    str(w, buf);
  } else {
    w.Null();
  }
  auto list = [&](const char* name, const std::vector<std::string>& v) {
    if (v.empty()) return;
    key(w, name);
    w.StartArray();
    for (const auto& s : v) str(w, s);
    w.EndArray();
  };
  list("billable_children", d.children);
  list("seventh_characters", d.seventh_characters);
  list("valid_in_releases", d.other_releases);
  w.EndObject();
  std::printf("%s\n", sb.GetString());
  return r.valid() ? 0 : 1;
}

void writeCode(Writer& w, const AssignedCode& c) {
  w.StartObject();
  key(w, "code"); str(w, c.code);
  key(w, "system"); str(w, codeSystemUri(c.system));
  key(w, "display"); str(w, c.display);
  key(w, "method"); str(w, codingMethodName(c.method));
  key(w, "confidence"); w.Double(c.confidence);
  if (!c.modifiers.empty()) {
    key(w, "modifiers");
    w.StartArray();
    for (const auto& m : c.modifiers) str(w, m);
    w.EndArray();
  }
  key(w, "why"); str(w, c.why);
  w.EndObject();
}

std::string resultJson(std::string_view text, const CodingResult& r, bool official) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  key(w, "text"); str(w, text);
  key(w, "codes");
  w.StartArray();
  for (const auto& c : r.codes) writeCode(w, c);
  w.EndArray();
  key(w, "review"); w.Bool(r.review);
  key(w, "reason"); str(w, r.reason);
  if (!r.query.empty()) {
    key(w, "query"); str(w, r.query);
  }
  key(w, "alternatives");
  w.StartArray();
  for (const auto& c : r.alternatives) writeCode(w, c);
  w.EndArray();
  key(w, "release"); str(w, r.release);
  if (!official) {
    key(w, "release_official"); w.Bool(false);
  }
  w.EndObject();
  return sb.GetString();
}

int runText(const CodeOptions& o, const CodeSets& sets, const std::string& dir, std::optional<ServiceDate> date) {
  auto coder = TextCoder::build(sets, dir);
  if (!coder) {
    std::fprintf(stderr, "courier code: %s\n", coder.error().toString().c_str());
    return 2;
  }
  TextCodingOptions opt;
  opt.date = date;
  opt.setting = o.setting == "inpatient" ? EncounterSetting::kInpatient : EncounterSetting::kOutpatient;
  bool official = true;
  if (auto rel = sets.releaseFor(CodeSystem::kIcd10Cm, date)) official = (*rel)->release().official;
  if (!o.text.empty()) {
    std::printf("%s\n", resultJson(o.text, (*coder)->code(o.text, opt), official).c_str());
    return 0;
  }
  std::ifstream in(o.file);
  if (!in) {
    std::fprintf(stderr, "courier code: cannot open %s\n", o.file.c_str());
    return 2;
  }
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    out = resultJson(line, (*coder)->code(line, opt), official);
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

void writeResult(Writer& w, const CodingResult& r) {
  w.StartObject();
  key(w, "codes");
  w.StartArray();
  for (const auto& c : r.codes) writeCode(w, c);
  w.EndArray();
  key(w, "review"); w.Bool(r.review);
  if (!r.reason.empty()) {
    key(w, "reason"); str(w, r.reason);
  }
  if (!r.query.empty()) {
    key(w, "query"); str(w, r.query);
  }
  if (!r.alternatives.empty()) {
    key(w, "alternatives");
    w.StartArray();
    for (const auto& c : r.alternatives) writeCode(w, c);
    w.EndArray();
  }
  key(w, "release"); str(w, r.release);
  w.EndObject();
}

// One record's coding as JSON: the sent code and where it came from, next to the result.
std::string codedRecordJson(const record::CanonicalRecord& rec, const CodedRecord& coded) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  key(w, "message_id"); str(w, rec.message_id.value);
  key(w, "date_of_service");
  if (coded.date_of_service) {
    char buf[16];
    const ServiceDate& d = *coded.date_of_service;
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
    str(w, buf);
  } else {
    w.Null();
  }
  key(w, "needs_review"); w.Bool(coded.needsReview());
  key(w, "all_billable"); w.Bool(coded.allBillable());
  auto sent = [&](const record::Code& c, const std::string& source_segment) {
    key(w, "source"); str(w, source_segment);
    key(w, "sent_code"); str(w, c.code.value);
    key(w, "sent_system"); str(w, c.system.value);
  };
  auto items = [&](const char* name, size_t n, auto&& each) {
    key(w, name);
    w.StartArray();
    for (size_t i = 0; i < n; ++i) each(i);
    w.EndArray();
  };
  items("diagnoses", coded.diagnoses.size(), [&](size_t i) {
    w.StartObject();
    sent(rec.diagnoses[i].code, rec.diagnoses[i].source_segment);
    key(w, "text"); str(w, rec.diagnoses[i].text.value);
    key(w, "result"); writeResult(w, coded.diagnoses[i]);
    w.EndObject();
  });
  items("procedures", coded.procedures.size(), [&](size_t i) {
    w.StartObject();
    sent(rec.procedures[i].code, rec.procedures[i].source_segment);
    key(w, "result"); writeResult(w, coded.procedures[i]);
    w.EndObject();
  });
  items("charges", coded.charges.size(), [&](size_t i) {
    const record::Charge& c = rec.charges[i];
    w.StartObject();
    sent(c.hcpcs, c.source_segment);
    key(w, "chargemaster"); str(w, c.chargemaster.code.value);
    key(w, "result"); writeResult(w, coded.charges[i]);
    w.EndObject();
  });
  w.EndObject();
  return sb.GetString();
}

// --record: HL7 v2 (a message or a batch) or FHIR JSON documents; one line per record.
int runRecord(const CodeOptions& o, const std::string& dir) {
  auto data = readInput(o.record);
  if (!data) {
    std::fprintf(stderr, "courier code: %s\n", data.error().toString().c_str());
    return 1;
  }
  std::vector<record::CanonicalRecord> records;
  auto read = record::recordsFromBytes(*data, {}, [&](record::DecodedRecord& d) { records.push_back(std::move(d.record)); });
  if (!read) {
    std::fprintf(stderr, "courier code: %s: %s\n", o.record.c_str(), read.error().toString().c_str());
    return 1;
  }
  RecordCoderOptions options;
  if (!o.crosswalk.empty()) options.crosswalk_files = std::vector<std::string>{o.crosswalk};
  auto coder = RecordCoder::load(dir, options);
  if (!coder) {
    std::fprintf(stderr, "courier code: %s\n", coder.error().toString().c_str());
    return 2;
  }
  bool all_billable = true;
  for (const auto& rec : records) {
    CodedRecord coded = (*coder)->code(rec);
    all_billable = all_billable && coded.allBillable();
    std::printf("%s\n", codedRecordJson(rec, coded).c_str());
  }
  return all_billable ? 0 : 1;
}

int run(const CodeOptions& o) {
  std::optional<ServiceDate> date;
  if (!o.date.empty()) {
    auto d = parseServiceDate(o.date);
    if (!d) {
      std::fprintf(stderr, "courier code: %s\n", d.error().toString().c_str());
      return 2;
    }
    date = *d;
  }
  const std::string dir = (o.mappings.empty() ? defaultMappingsDir() : o.mappings);
  if (!o.record.empty()) return runRecord(o, dir);
  auto sets = CodeSets::load(dir + "/codesets");
  if (!sets) {
    std::fprintf(stderr, "courier code: %s\n", sets.error().toString().c_str());
    return 2;
  }
  if (!o.check.empty()) return runCheck(o, **sets, date);
  if (!o.text.empty() || !o.file.empty()) return runText(o, **sets, dir, date);
  if (!o.icd9.empty()) {
    auto gems = GemMap::load(dir + "/codesets/gem_2018_i9_to_i10.txt.gz");
    if (!gems) {
      std::fprintf(stderr, "courier code: %s\n", gems.error().toString().c_str());
      return 2;
    }
    CodeTranslator tr(**sets, &*gems);
    std::printf("%s\n", resultJson(o.icd9, tr.fromIcd9(o.icd9, date), true).c_str());
    return 0;
  }
  if (!o.crosswalk.empty()) {
    auto cw = Crosswalk::load(o.crosswalk);
    if (!cw) {
      std::fprintf(stderr, "courier code: %s\n", cw.error().toString().c_str());
      return 2;
    }
    CodeTranslator tr(**sets, nullptr);
    std::printf("%s\n", resultJson(o.local, tr.fromCrosswalk(*cw, "", o.local, date), true).c_str());
    return 0;
  }
  std::fprintf(stderr,
               "courier code: give --check CODE, --text PHRASE, --file FILE, --icd9 CODE, --crosswalk FILE --local "
               "CODE or --record FILE\n");
  return 2;
}

}  // namespace

void addCodeCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<CodeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "code", "Check and normalize codes (ICD-10-CM, ICD-10-PCS, HCPCS) or propose ICD-10-CM codes for text");
  auto* check = cmd->add_option("--check", opts->check, "A code to check and normalize (E119, e11.9, S52.501A)");
  auto* text = cmd->add_option("--text", opts->text, "A diagnosis phrase to code");
  auto* file = cmd->add_option("--file", opts->file, "A file of phrases, one per line (one JSON object per line out)");
  auto* rec = cmd->add_option("--record", opts->record,
                               "An HL7 v2 message or batch (or FHIR JSON) whose diagnoses, procedures and charges to "
                               "code; exit 1 when some record is not billable as is");
  check->excludes(text)->excludes(file)->excludes(rec);
  text->excludes(file)->excludes(rec);
  file->excludes(rec);
  cmd->add_option("--icd9", opts->icd9, "An ICD-9-CM code to translate through the 2018 GEMs");
  auto* cw = cmd->add_option("--crosswalk", opts->crosswalk,
                             "A crosswalk (CSV or FHIR ConceptMap JSON) for --local, or the site crosswalk for --record");
  cmd->add_option("--local", opts->local, "A local code (e.g. a chargemaster item) to translate")->needs(cw);
  cmd->add_option("--system", opts->system, "Code system for --check: icd10cm, icd10pcs, hcpcs")
      ->capture_default_str();
  cmd->add_option("--date", opts->date, "Date of service (discharge date for inpatient), YYYY-MM-DD");
  cmd->add_option("--setting", opts->setting, "outpatient or inpatient (uncertain diagnoses)")
      ->check(CLI::IsMember({"outpatient", "inpatient"}))
      ->capture_default_str();
  cmd->add_option("--mappings", opts->mappings, "The mappings/ folder (default: $COURIER_MAPPINGS_DIR or the source tree)");
  cmd->callback([opts, &exit_code] { exit_code = run(*opts); });
}

}  // namespace courier::cli
