// courier convert: HL7 v2 or FHIR R4 JSON → FHIR R4 Bundle or canonical record JSON.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include "cli/commands.h"
#include "cli/input.h"
#include "engine/record/from_bytes.h"
#include "engine/record/record_json.h"
#include "engine/record/site_map.h"
#include "engine/record/to_fhir.h"

namespace courier::cli {
namespace {

struct ConvertOptions {
  std::string to = "fhir";
  std::string file;
  std::string site_map;
};

// Prints one JSON document per message or FHIR document; stops at the first one it
// cannot convert and names it (message or document number, location) on stderr.
int runConvert(const ConvertOptions& opts) {
  record::SiteMaps maps;
  if (!opts.site_map.empty()) {
    auto map = record::SiteMap::load(opts.site_map);
    if (!map) {
      for (const Error& e : map.error()) std::fprintf(stderr, "courier convert: %s\n", e.toString().c_str());
      return 2;
    }
    maps.add({}, {}, std::move(*map));  // --site-map applies to every sender
  }
  auto data = readInput(opts.file);
  if (!data) {
    std::fprintf(stderr, "courier convert: %s\n", data.error().toString().c_str());
    return 1;
  }
  record::DecodeOptions decode;
  decode.site_maps = &maps;
  auto done = record::recordsFromBytes(*data, decode, [&](record::DecodedRecord& d) {
    std::string out = opts.to == "record" ? record::toRecordJson(d.record) : record::toFhirBundle(d.record);
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
  std::fflush(stdout);
  if (!done) {
    std::fprintf(stderr, "courier convert: %s: %s\n", opts.file.c_str(), done.error().toString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void addConvertCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Convert HL7 v2 messages or FHIR R4 JSON to a FHIR R4 Bundle or to the canonical record (JSON, one per line)");
  cmd->add_option("--to", opts->to, "Output: fhir (Bundle) or record (canonical record with sources)")
      ->check(CLI::IsMember({"fhir", "record"}));
  cmd->add_option("--site-map", opts->site_map,
                  "Site map (CSV, see mappings/sites/) applied to every HL7 v2 message: Z-segments and local fields to record elements");
  cmd->add_option("file", opts->file, "HL7 v2 file (one message, several, or a batch) or FHIR JSON (Bundles or resources), or - for stdin")
      ->required();
  cmd->callback([opts, &exit_code] { exit_code = runConvert(*opts); });
}

}  // namespace courier::cli
