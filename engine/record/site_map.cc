#include "engine/record/site_map.h"

#include <array>
#include <fstream>
#include <sstream>
#include <utility>

namespace courier::record {
namespace {

enum Target {
  kPatientIdentifier,
  kPatientTelecom,
  kPatientExtension,
  kEncounterExtension,
  kPatientBirthDate,
  kPatientSex,
  kEncounterPatientClass,
  kEncounterVisitNumber,
  kEncounterHospitalService,
  kEncounterAdmissionType,
  kEncounterDischargeDisposition,
  kEncounterLocationFacility,
  kEncounterLocationPointOfCare,
  kEncounterReason,
  kCoverageMemberId,
  kCoverageGroupNumber,
  kCoveragePayerId,
  kCoveragePayerName,
  kCoveragePlan,
  kTargetCount,
};

struct TargetInfo {
  std::string_view name;
  std::array<std::string_view, 2> options;  // allowed option keys
};

constexpr std::array<TargetInfo, kTargetCount> kTargets = {{
    {"patient.identifier", {"type", "system"}},
    {"patient.telecom", {"use", "equipment"}},
    {"patient.extension", {"url", {}}},
    {"encounter.extension", {"url", {}}},
    {"patient.birth_date", {}},
    {"patient.sex", {}},
    {"encounter.patient_class", {}},
    {"encounter.visit_number", {}},
    {"encounter.hospital_service", {}},
    {"encounter.admission_type", {}},
    {"encounter.discharge_disposition", {}},
    {"encounter.location_facility", {}},
    {"encounter.location_point_of_care", {}},
    {"encounter.reason", {}},
    {"coverage.member_id", {}},
    {"coverage.group_number", {}},
    {"coverage.payer_id", {}},
    {"coverage.payer_name", {}},
    {"coverage.plan", {}},
}};

bool isCoverage(int t) { return t >= kCoverageMemberId && t <= kCoveragePlan; }
bool isEncounter(int t) {
  return t == kEncounterExtension || (t >= kEncounterPatientClass && t <= kEncounterReason);
}
bool isList(int t) {
  return t == kPatientIdentifier || t == kPatientTelecom || t == kPatientExtension || t == kEncounterExtension;
}

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// A cell of a line and the 1-based column of its first non-blank character.
struct Cell {
  std::string_view text;
  int column = 0;
};

std::vector<Cell> splitCells(std::string_view line) {
  std::vector<Cell> cells;
  size_t begin = 0;
  while (true) {
    size_t end = line.find(',', begin);
    std::string_view raw = line.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    size_t lead = 0;
    while (lead < raw.size() && isBlank(raw[lead])) ++lead;
    size_t len = raw.size();
    while (len > lead && isBlank(raw[len - 1])) --len;
    cells.push_back({raw.substr(lead, len - lead), static_cast<int>(begin + lead + 1)});
    if (end == std::string_view::npos) break;
    begin = end + 1;
  }
  return cells;
}

// FHIR code values: no whitespace at either end, no control characters.
bool plainCode(std::string_view s) {
  if (s.empty() || isBlank(s.front()) || isBlank(s.back())) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20) return false;
  return true;
}

// An absolute URI: a scheme of letters/digits/+.- followed by ':' and no whitespace.
bool absoluteUri(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  for (size_t i = 0; i < colon; ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '.' ||
              c == '-';
    if (!ok) return false;
  }
  for (char c : s)
    if (static_cast<unsigned char>(c) <= ' ') return false;
  return true;
}

std::string knownTargets() {
  std::string out;
  for (const TargetInfo& t : kTargets) {
    if (!out.empty()) out += ", ";
    out += t.name;
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view file) : file_(file) {}

  void line(std::string_view text, int number) {
    size_t hash = text.find('#');
    if (hash != std::string_view::npos) text = text.substr(0, hash);
    std::vector<Cell> cells = splitCells(text);
    if (cells.size() == 1 && cells[0].text.empty()) return;  // blank or comment only
    SiteMap::Rule rule;
    rule.line = number;
    const Cell& path = cells[0];
    if (path.text.empty()) {
      error(number, path.column, "the line has no HL7 v2 path in its first cell (like ZPI-3 or PV1-52.1).");
      return;
    }
    auto parsed = hl7v2::Path::parse(path.text);
    if (!parsed) {
      error(number, path.column,
            std::string("'").append(path.text).append("' is not an HL7 v2 path: ").append(parsed.error().message).append("."));
      return;
    }
    rule.path = *parsed;
    size_t dash = path.text.find_first_of("-.");
    rule.all_occurrences = path.text.substr(0, dash).find_first_of("[(") == std::string_view::npos;
    std::string_view after = path.text.substr(dash + 1);
    size_t dot = after.find('.');
    rule.all_repetitions = after.substr(0, dot).find_first_of("[(") == std::string_view::npos;
    if (cells.size() < 2 || cells[1].text.empty()) {
      int col = cells.size() < 2 ? static_cast<int>(path.column + path.text.size()) : cells[1].column;
      error(number, col, "the line has no record element in its second cell (like patient.identifier).");
      return;
    }
    const Cell& target = cells[1];
    int found = -1;
    for (int i = 0; i < kTargetCount; ++i)
      if (kTargets[static_cast<size_t>(i)].name == target.text) found = i;
    if (found < 0) {
      error(number, target.column,
            "'" + std::string(target.text) + "' is not a record element a site map can fill; use one of " +
                knownTargets() + ".");
      return;
    }
    rule.target = found;
    const TargetInfo& info = kTargets[static_cast<size_t>(found)];
    bool ok = true;
    for (size_t i = 2; i < cells.size(); ++i) {
      const Cell& opt = cells[i];
      if (opt.text.empty()) continue;  // a trailing comma
      size_t eq = opt.text.find('=');
      std::string_view key = opt.text.substr(0, eq);
      while (!key.empty() && isBlank(key.back())) key.remove_suffix(1);
      std::string_view value = eq == std::string_view::npos ? std::string_view() : opt.text.substr(eq + 1);
      while (!value.empty() && isBlank(value.front())) value.remove_prefix(1);
      if (eq == std::string_view::npos || key.empty() || value.empty()) {
        error(number, opt.column, "options are written key=value, like type=MR; '" + std::string(opt.text) + "' is not.");
        ok = false;
        continue;
      }
      bool allowed = !key.empty() && (key == info.options[0] || key == info.options[1]);
      if (!allowed) {
        std::string hint = info.options[0].empty()
                               ? std::string(info.name) + " takes no options."
                               : std::string(info.name) + " takes " + std::string(info.options[0]) +
                                     (info.options[1].empty() ? "" : " and " + std::string(info.options[1])) + ".";
        error(number, opt.column, "unknown option '" + std::string(key) + "': " + hint);
        ok = false;
        continue;
      }
      std::string v(value);
      if (key == "url") {
        if (!absoluteUri(v)) {
          error(number, opt.column, "the extension url must be an absolute URI without spaces, like "
                                    "http://example.org/fhir/StructureDefinition/local-field.");
          ok = false;
        }
        rule.url = std::move(v);
      } else if (!plainCode(v)) {
        error(number, opt.column, "the value of " + std::string(key) + " must not contain control characters.");
        ok = false;
      } else if (key == "type") {
        rule.type = std::move(v);
      } else if (key == "system") {
        rule.system = std::move(v);
      } else if (key == "use") {
        rule.use = std::move(v);
      } else if (key == "equipment") {
        rule.equipment = std::move(v);
      }
    }
    if ((found == kPatientExtension || found == kEncounterExtension) && rule.url.empty() && ok) {
      error(number, target.column, "an extension needs its url, like url=http://example.org/fhir/StructureDefinition/x.");
      ok = false;
    }
    if (ok) rules_.push_back(std::move(rule));
  }

  void error(int line, int column, std::string message) {
    errors_.emplace_back(ErrorCode::kConfig, std::move(message),
                         std::string(file_) + ":" + std::to_string(line) + ":" + std::to_string(column));
  }

  std::string_view file_;
  std::vector<SiteMap::Rule> rules_;
  SiteMapErrors errors_;
};

// Identifier.system from a site map: an OID (bare or urn:oid:) is kept bare, as CX-4
// would carry it, so that the FHIR writer makes it urn:oid:; anything else as written.
std::string authorityFor(const std::string& system) {
  if (system.rfind("urn:oid:", 0) == 0) return system.substr(8);
  return system;
}

// Applies one value read by `rule` to the record. `coverage` is the coverage this
// segment belongs to (resolved by the caller); null unless the rule targets one.
void applyValue(const SiteMap::Rule& rule, Sourced value, CanonicalRecord& rec, Coverage* coverage) {
  switch (rule.target) {
    case kPatientIdentifier: {
      Identifier id;
      if (!rule.type.empty()) id.type = {rule.type, value.source};
      if (!rule.system.empty()) id.assigning_authority = {authorityFor(rule.system), value.source};
      id.value = std::move(value);
      rec.patient.identifiers.push_back(std::move(id));
      return;
    }
    case kPatientTelecom: {
      Telecom t;
      if (!rule.use.empty()) t.use = {rule.use, value.source};
      if (!rule.equipment.empty()) t.equipment = {rule.equipment, value.source};
      t.value = std::move(value);
      rec.patient.telecoms.push_back(std::move(t));
      return;
    }
    case kPatientExtension:
      rec.patient.extensions.push_back({rule.url, std::move(value)});
      return;
    case kEncounterExtension:
      rec.encounter.extensions.push_back({rule.url, std::move(value)});
      return;
    default:
      break;
  }
  Sourced* slot = nullptr;
  switch (rule.target) {
    case kPatientBirthDate: slot = &rec.patient.birth_date; break;
    case kPatientSex: slot = &rec.patient.sex; break;
    case kEncounterPatientClass: slot = &rec.encounter.patient_class; break;
    case kEncounterVisitNumber: slot = &rec.encounter.visit_number; break;
    case kEncounterHospitalService: slot = &rec.encounter.hospital_service; break;
    case kEncounterAdmissionType: slot = &rec.encounter.admission_type; break;
    case kEncounterDischargeDisposition: slot = &rec.encounter.discharge_disposition; break;
    case kEncounterLocationFacility: slot = &rec.encounter.location_facility; break;
    case kEncounterLocationPointOfCare: slot = &rec.encounter.location_point_of_care; break;
    case kEncounterReason: slot = &rec.encounter.reason; break;
    case kCoverageMemberId: slot = &coverage->member_id; break;
    case kCoverageGroupNumber: slot = &coverage->group_number; break;
    case kCoveragePayerId: slot = &coverage->payer_id; break;
    case kCoveragePayerName: slot = &coverage->payer_name; break;
    case kCoveragePlan:
      // The site's plan code replaces IN1-2 as a whole: its text and system belong to the old code.
      coverage->plan = Code{};
      slot = &coverage->plan.code;
      break;
    default: return;
  }
  *slot = std::move(value);
}

// "ZIN" or "ZIN[2]", as the record names segment occurrences.
std::string segmentName(std::string_view id, int occurrence) {
  std::string out(id);
  if (occurrence != 1) {
    out += '[';
    out += std::to_string(occurrence);
    out += ']';
  }
  return out;
}

// Decoded, UTF-8 value at `path` with its path as source (empty when absent).
Sourced read(const hl7v2::Message& msg, const hl7v2::Path& path) {
  Sourced out;
  out.value = msg.get(path);
  if (!out.value.empty()) out.source = path.toString();
  return out;
}

}  // namespace

Result<SiteMap, SiteMapErrors> SiteMap::parse(std::string_view text, std::string_view file_name) {
  Parser parser(file_name);
  int number = 0;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find('\n', begin);
    std::string_view line = text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    parser.line(line, ++number);
    if (end == std::string_view::npos) break;
    begin = end + 1;
  }
  if (!parser.errors_.empty()) return Unexpected(std::move(parser.errors_));
  SiteMap map;
  map.rules_ = std::move(parser.rules_);
  return map;
}

Result<SiteMap, SiteMapErrors> SiteMap::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return Unexpected(SiteMapErrors{
        Error(ErrorCode::kConfig, "the site map file cannot be read.", file.string() + ":0:0")});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file.string());
}

void SiteMap::apply(const hl7v2::Message& msg, CanonicalRecord& rec) const {
  if (rules_.empty()) return;
  const char rep_delim = msg.delimiters().repetition;
  // Occurrence number of each segment id seen so far, IN1 count for coverages, and the
  // coverage a segment without a preceding IN1 created.
  std::vector<std::pair<std::string_view, int>> seen;
  int in1_seen = 0;
  for (size_t s = 0; s < msg.segmentCount(); ++s) {
    hl7v2::Segment segment = msg.segment(s);
    std::string_view id = segment.name();
    if (id.size() != 3) continue;
    int occurrence = 0;
    for (auto& [name, count] : seen) {
      if (name == id) occurrence = ++count;
    }
    if (occurrence == 0) {
      seen.emplace_back(id, 1);
      occurrence = 1;
    }
    if (id == "IN1") ++in1_seen;
    int created_coverage = -1;
    for (const Rule& rule : rules_) {
      if (rule.path.segmentId() != id) continue;
      if (!rule.all_occurrences && rule.path.segment_rep != occurrence) continue;
      std::string_view field = segment.field(rule.path.field);
      if (field.empty()) continue;
      int reps = 1;
      if (rule.all_repetitions && !(id == "MSH" && rule.path.field <= 2)) {
        for (char c : field)
          if (c == rep_delim) ++reps;
      }
      hl7v2::Path at = rule.path;
      at.segment_rep = occurrence;
      for (int r = 1; r <= reps; ++r) {
        if (rule.all_repetitions) at.repetition = r;
        Sourced value = read(msg, at);
        if (value.empty()) continue;
        Coverage* coverage = nullptr;
        if (isCoverage(rule.target)) {
          if (in1_seen > 0 && static_cast<size_t>(in1_seen) <= rec.coverages.size()) {
            coverage = &rec.coverages[static_cast<size_t>(in1_seen - 1)];
          } else {
            if (created_coverage < 0) {
              Coverage c;
              c.source_segment = segmentName(id, occurrence);
              rec.coverages.push_back(std::move(c));
              created_coverage = static_cast<int>(rec.coverages.size()) - 1;
            }
            coverage = &rec.coverages[static_cast<size_t>(created_coverage)];
          }
        }
        if (isEncounter(rule.target) && !rec.has_encounter) {
          rec.has_encounter = true;
          rec.encounter.source_segment = segmentName(id, occurrence);
        }
        applyValue(rule, std::move(value), rec, coverage);
        if (!isList(rule.target)) break;  // single-valued: the first non-empty value
      }
    }
  }
}

Result<SiteMaps, SiteMapErrors> SiteMaps::load(const std::vector<Source>& sources) {
  SiteMaps maps;
  SiteMapErrors errors;
  for (const Source& s : sources) {
    auto map = SiteMap::load(s.file);
    if (!map) {
      for (Error& e : map.error()) errors.push_back(std::move(e));
      continue;
    }
    maps.add(s.facility, s.application, std::move(*map));
  }
  if (!errors.empty()) return Unexpected(std::move(errors));
  return maps;
}

void SiteMaps::add(std::string facility, std::string application, SiteMap map) {
  entries_.push_back({std::move(facility), std::move(application), std::move(map)});
}

const SiteMap* SiteMaps::select(std::string_view facility, std::string_view application) const {
  for (const Entry& e : entries_) {
    if (!e.facility.empty() && e.facility != facility) continue;
    if (!e.application.empty() && e.application != application) continue;
    return &e.map;
  }
  return nullptr;
}

void SiteMaps::apply(const hl7v2::Message& msg, CanonicalRecord& rec) const {
  if (const SiteMap* map = select(rec.sending_facility.value, rec.sending_application.value)) map->apply(msg, rec);
}

}  // namespace courier::record
