// courier convert: HL7 v2 or FHIR R4 JSON → FHIR R4 Bundle or canonical record JSON.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/input.h"
#include "engine/hl7v2/batch.h"
#include "engine/hl7v2/message.h"
#include "engine/record/from_fhir.h"
#include "engine/record/from_hl7v2.h"
#include "engine/record/record_json.h"
#include "engine/record/to_fhir.h"

namespace courier::cli {
namespace {

struct ConvertOptions {
  std::string to = "fhir";
  std::string file;
};

void printRecord(const ConvertOptions& opts, const record::CanonicalRecord& rec) {
  std::string out = opts.to == "record" ? record::toRecordJson(rec) : record::toFhirBundle(rec);
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// FHIR JSON: one or more documents (a Bundle or a resource each), one after the other.
int convertFhir(const ConvertOptions& opts, std::string_view data) {
  int n = 0;
  while (true) {
    while (!data.empty() && isSpace(data.front())) data.remove_prefix(1);
    if (data.empty()) break;
    ++n;
    size_t used = 0;
    auto rec = record::fromFhirJson(data, &used);
    if (!rec) {
      std::fprintf(stderr, "courier convert: %s: document %d: %s\n", opts.file.c_str(), n,
                   rec.error().toString().c_str());
      return 1;
    }
    printRecord(opts, *rec);
    data.remove_prefix(used);
  }
  std::fflush(stdout);
  return 0;
}

// Prints one JSON document per message; stops at the first message it cannot
// convert and names it (message number, location) on stderr. Input whose first
// non-space byte is `{` is FHIR JSON, anything else HL7 v2.
int runConvert(const ConvertOptions& opts) {
  auto data = readInput(opts.file);
  if (!data) {
    std::fprintf(stderr, "courier convert: %s\n", data.error().toString().c_str());
    return 1;
  }
  size_t first = 0;
  while (first < data->size() && isSpace((*data)[first])) ++first;
  if (first < data->size() && (*data)[first] == '{') return convertFhir(opts, *data);
  auto batch = hl7v2::splitBatch(*data);
  if (!batch) {
    std::fprintf(stderr, "courier convert: %s: %s\n", opts.file.c_str(), batch.error().toError().toString().c_str());
    return 1;
  }
  int n = 0;
  for (std::string_view bytes : batch->messages) {
    ++n;
    auto msg = hl7v2::Message::parse(bytes);
    if (!msg) {
      std::fprintf(stderr, "courier convert: %s: message %d: %s\n", opts.file.c_str(), n,
                   msg.error().toError().toString().c_str());
      return 1;
    }
    auto rec = record::fromHl7v2(*msg);
    if (!rec) {
      std::fprintf(stderr, "courier convert: %s: message %d: %s\n", opts.file.c_str(), n,
                   rec.error().toString().c_str());
      return 1;
    }
    printRecord(opts, *rec);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

void addConvertCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert", "Convert HL7 v2 messages or FHIR R4 JSON to a FHIR R4 Bundle or to the canonical record (JSON, one per line)");
  cmd->add_option("--to", opts->to, "Output: fhir (Bundle) or record (canonical record with sources)")
      ->check(CLI::IsMember({"fhir", "record"}));
  cmd->add_option("file", opts->file, "HL7 v2 file (one message, several, or a batch) or FHIR JSON (Bundles or resources), or - for stdin")
      ->required();
  cmd->callback([opts, &exit_code] { exit_code = runConvert(*opts); });
}

}  // namespace courier::cli
