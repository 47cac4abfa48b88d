// courier parse: read HL7 v2 files, print what Courier sees in them.
#include <cstdio>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cli/commands.h"
#include "cli/input.h"
#include "engine/hl7v2/batch.h"
#include "engine/hl7v2/escape.h"
#include "engine/hl7v2/message.h"

namespace courier::cli {
namespace {

using hl7v2::Delimiters;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

struct ParseOptions {
  std::vector<std::string> files;
  std::vector<std::string> paths;
  bool json = false;
  bool roundtrip = false;
};

void writeString(Writer& w, std::string_view raw, const hl7v2::Message& msg) {
  std::string decoded = hl7v2::decode(raw, msg.delimiters());
  if (msg.charset() == hl7v2::Charset::kLatin1) {
    std::string utf8;
    hl7v2::appendLatin1AsUtf8(decoded, utf8);
    decoded.swap(utf8);
  }
  w.String(decoded.data(), static_cast<rapidjson::SizeType>(decoded.size()));
}

// A value nests as arrays only where it has more than one part at that level.
void writeLevel(Writer& w, std::string_view raw, const hl7v2::Message& msg, int level) {
  const Delimiters& d = msg.delimiters();
  const char delims[3] = {d.repetition, d.component, d.subcomponent};
  for (; level < 3; ++level) {
    char delim = delims[level];
    if (delim != '\0' && raw.find(delim) != std::string_view::npos) {
      w.StartArray();
      size_t start = 0;
      while (true) {
        size_t at = raw.find(delim, start);
        writeLevel(w, raw.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start), msg,
                   level + 1);
        if (at == std::string_view::npos) break;
        start = at + 1;
      }
      w.EndArray();
      return;
    }
  }
  writeString(w, raw, msg);
}

void writeJson(const hl7v2::Message& msg, std::string& out) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  auto str = [&](std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
  w.StartObject();
  w.Key("type");
  str(msg.messageType());
  w.Key("trigger");
  str(msg.triggerEvent());
  w.Key("control_id");
  str(msg.controlId());
  w.Key("version");
  str(msg.version());
  w.Key("segments");
  w.StartArray();
  for (size_t s = 0; s < msg.segmentCount(); ++s) {
    auto seg = msg.segment(s);
    w.StartArray();
    str(seg.name());
    for (int f = 1; f <= seg.fieldCount(); ++f) {
      if (s == 0 && f <= 2) str(seg.field(f));  // MSH-1, MSH-2 are the delimiters themselves
      else writeLevel(w, seg.field(f), msg, 0);
    }
    w.EndArray();
  }
  w.EndArray();
  w.EndObject();
  out.append(buf.GetString(), buf.GetSize());
  out.push_back('\n');
}

void appendOneLine(std::string_view value, std::string& out) {
  for (char c : value) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out.push_back(c);
  }
  out.push_back('\n');
}

int runParse(const ParseOptions& opt) {
  std::vector<hl7v2::Path> paths;
  for (const auto& text : opt.paths) {
    auto p = hl7v2::Path::parse(text);
    if (!p) {
      std::fprintf(stderr, "courier parse: bad --path %s: %s\n", text.c_str(), p.error().message.c_str());
      return 2;
    }
    paths.push_back(*p);
  }
  int status = 0;
  std::string out;
  for (const auto& file : opt.files) {
    auto data = readInput(file);
    if (!data) {
      std::fprintf(stderr, "courier parse: %s\n", data.error().toString().c_str());
      status = 1;
      continue;
    }
    auto batch = hl7v2::splitBatch(*data);
    if (!batch) {
      std::fprintf(stderr, "%s: %s\n", file.c_str(), batch.error().toError().toString().c_str());
      status = 1;
      continue;
    }
    for (const auto& warning : batch->warnings) std::fprintf(stderr, "%s: warning: %s\n", file.c_str(), warning.c_str());
    int index = 0;
    for (std::string_view bytes : batch->messages) {
      ++index;
      auto msg = hl7v2::Message::parse(bytes);
      if (!msg) {
        std::fprintf(stderr, "%s: message %d: %s\n", file.c_str(), index, msg.error().toError().toString().c_str());
        status = 1;
        for (size_t k = 0; k < paths.size(); ++k) out.push_back('\n');  // keep one line per path
        continue;
      }
      if (opt.roundtrip && msg->rebuildFromIndex() != bytes) {
        std::fprintf(stderr, "%s: message %d: re-serializing did not reproduce the input bytes\n", file.c_str(), index);
        status = 1;
      }
      if (opt.json) writeJson(*msg, out);
      for (const auto& p : paths) appendOneLine(msg->get(p), out);
      if (!opt.json && paths.empty() && !opt.roundtrip) {
        out += std::string(msg->messageType()) + "^" + std::string(msg->triggerEvent()) + " control_id=" +
               std::string(msg->controlId()) + " version=" + std::string(msg->version()) +
               " segments=" + std::to_string(msg->segmentCount()) + " bytes=" + std::to_string(bytes.size()) + "\n";
      }
      if (out.size() > (1 << 16)) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        out.clear();
      }
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return status;
}

}  // namespace

void addParseCommand(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ParseOptions>();
  CLI::App* cmd = app.add_subcommand(
      "parse",
      "Parse HL7 v2 messages (batches and multi-message files are split) and print them.\n"
      "Without options prints one summary line per message. Exit code 1 if any message is malformed.");
  cmd->add_option("files", opt->files, "HL7 v2 files to read; - for standard input")->required();
  cmd->add_flag("--json", opt->json,
                "Print one JSON object per message: type, trigger, control_id, version, and segments as "
                "nested arrays of decoded values");
  cmd->add_option("--path", opt->paths,
                  "Print the decoded value at this path, one line per message and path, e.g. PID-5.1, "
                  "PID-3[2].1, OBX[3]-5, PID-11.1.2 (repeatable; newlines print as \\n)");
  cmd->add_flag("--roundtrip", opt->roundtrip,
                "Check that re-serializing each message reproduces its input bytes exactly; exit 1 if not");
  cmd->callback([opt, &exit_code] { exit_code = runParse(*opt); });
}

}  // namespace courier::cli
