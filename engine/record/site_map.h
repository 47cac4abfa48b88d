// Site maps: a site's Z-segments and local fields mapped to record elements by a
// data file under mappings/sites/, so that a mapping that changes often needs no
// rebuild.
//
// The file is CSV: one rule per line, `#` starts a comment, blank lines are skipped,
// cells are trimmed.
//
//   # HL7 v2 path, record element,     options (key=value, one per cell)
//   ZPI-3.1,       patient.identifier, type=MR, system=urn:oid:2.16.840.1.113883.3.72
//   ZPI-7,         patient.telecom,    use=PRN, equipment=CP
//   PV1-52.1,      encounter.hospital_service
//   ZIN-2.1,       coverage.member_id
//   ZPI-9,         patient.extension,  url=http://example.org/fhir/StructureDefinition/religion
//
// The path is hl7v2::Path syntax. Without an explicit segment occurrence (`ZPI[2]-3`)
// every occurrence is read, without an explicit repetition (`ZPI-3[2]`) every
// repetition: list elements (identifier, telecom, extension) get one entry each,
// single-valued elements take the first non-empty value. A mapped value replaces
// what the standard conversion put there; an empty one changes nothing. Coverage
// elements go to the coverage of the IN1 that precedes the segment (ZIN after IN1);
// with none before it, to a new coverage. Encounter elements create the encounter
// when the message has no PV1. Every value keeps its path as source (`ZPI-3[2].1`).
//
// Elements: patient.identifier (options type, system), patient.telecom (use,
// equipment), patient.extension and encounter.extension (url, required),
// patient.birth_date, patient.sex, encounter.{patient_class, visit_number,
// hospital_service, admission_type, discharge_disposition, location_facility,
// location_point_of_care, reason}, coverage.{member_id, group_number, payer_id,
// payer_name, plan}.
//
// Errors: every problem of a file at once, each an Error{kConfig, sentence,
// "file:line:column"}; the column is the cell's first character.
//
// Thread-safety: a loaded SiteMap/SiteMaps is immutable; apply() is const and may
// run on many threads.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"
#include "engine/hl7v2/message.h"
#include "engine/hl7v2/path.h"
#include "engine/record/canonical_record.h"

namespace courier::record {

using SiteMapErrors = std::vector<Error>;

class SiteMap {
 public:
  // One line of the file.
  struct Rule {
    hl7v2::Path path;
    bool all_occurrences = true;  // no `[n]` after the segment id
    bool all_repetitions = true;  // no `[n]` after the field number
    int target = 0;               // index into the table of elements in site_map.cc
    std::string type, system, use, equipment, url;  // options
    int line = 0;
  };

  // `file_name` only names the file in error locations.
  [[nodiscard]] static Result<SiteMap, SiteMapErrors> parse(std::string_view text, std::string_view file_name);
  // Reads `file` and parses it; an unreadable file is one error at `file:0:0`.
  [[nodiscard]] static Result<SiteMap, SiteMapErrors> load(const std::filesystem::path& file);

  // Adds the mapped values of `msg` to `rec` (the record fromHl7v2 made of `msg`).
  void apply(const hl7v2::Message& msg, CanonicalRecord& rec) const;

  const std::vector<Rule>& rules() const { return rules_; }

 private:
  std::vector<Rule> rules_;
};

// The maps of a deployment, each for a sending facility and/or application
// (MSH-4.1 / MSH-3.1; empty matches any). The first entry that matches a message
// applies; a message no entry matches is left as the standard conversion made it.
class SiteMaps {
 public:
  struct Source {
    std::string facility;     // MSH-4.1; empty: any
    std::string application;  // MSH-3.1; empty: any
    std::filesystem::path file;
  };

  // Loads every file; all errors of all files at once.
  [[nodiscard]] static Result<SiteMaps, SiteMapErrors> load(const std::vector<Source>& sources);

  void add(std::string facility, std::string application, SiteMap map);
  bool empty() const { return entries_.empty(); }
  // The map for this sender, or null.
  const SiteMap* select(std::string_view facility, std::string_view application) const;
  // select() by the record's sending facility/application, then SiteMap::apply.
  void apply(const hl7v2::Message& msg, CanonicalRecord& rec) const;

 private:
  struct Entry {
    std::string facility;
    std::string application;
    SiteMap map;
  };
  std::vector<Entry> entries_;
};

}  // namespace courier::record
