// courier messages list|show: read the message store, also while `courier serve` runs
// (SQLite WAL readers never block the writer).
//
// Which store: `--config FILE` reads its store section (data dir overridable with
// --data-dir); otherwise the store is <data-dir>/courier.db with the data dir from
// --data-dir, else $COURIER_DATA_DIR, else ./var — the same default as deploy/courier.yaml.
//
// Output is for operators, so it shows identifiers (control id, patient id) on request;
// nothing here is logged. Exit 0 on success, 1 when the store or the message is missing
// or unreadable, 2 on bad usage.
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cli/commands.h"
#include "engine/config/config.h"
#include "engine/store/message_store.h"
#include "engine/store/store_factory.h"

namespace courier::cli {
namespace {

namespace fs = std::filesystem;
using store::MessageSummary;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

struct StoreLocation {
  std::string config_file;
  std::string data_dir;
};

struct ListOptions {
  StoreLocation where;
  std::string since, until, type, control_id, patient, facility;
  std::size_t limit = 100;
  bool json = false;
};

struct ShowOptions {
  StoreLocation where;
  store::MessageId id = 0;
  bool json = false;
  bool raw = false;
};

Result<std::unique_ptr<store::MessageStore>> openStore(const StoreLocation& where) {
  config::StoreConfig sc;
  if (!where.config_file.empty()) {
    config::LoadOptions load;
    load.check_files = false;  // reading messages needs no certificates
    if (!where.data_dir.empty()) load.data_dir_override = where.data_dir;
    auto cfg = config::loadConfig(where.config_file, config::processEnv(), load);
    if (!cfg) {
      for (const auto& e : cfg.error()) std::fprintf(stderr, "%s\n", e.toString().c_str());
      return Unexpected(Error(ErrorCode::kConfig, "the config file has problems", where.config_file));
    }
    sc = cfg->store;
  } else {
    std::string dir = where.data_dir;
    if (dir.empty()) {
      const char* env = std::getenv("COURIER_DATA_DIR");
      dir = (env != nullptr && *env != '\0') ? env : "./var";
    }
    sc.sqlite_path = fs::path(dir) / "courier.db";
  }
  auto opened = store::openMessageStoreForReading(sc);
  if (!opened && opened.error().code == ErrorCode::kNotFound) {
    return Unexpected(Error(ErrorCode::kNotFound,
                            "no message store here; start `courier serve` first, or point --data-dir or "
                            "--config at the right place",
                            sc.sqlite_path.string()));
  }
  return opened;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian), so that no time zone
// setting of the machine changes what a UTC timestamp means.
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// "2024-05-01", "2024-05-01T13:45", "2024-05-01T13:45:10Z" (UTC), or an age: "90s",
// "15m", "2h", "7d" (that long ago).
std::optional<store::TimePoint> parseTime(const std::string& text) {
  using namespace std::chrono;
  if (text.empty()) return std::nullopt;
  char unit = text.back();
  std::string digits = text.substr(0, text.size() - 1);
  if ((unit == 's' || unit == 'm' || unit == 'h' || unit == 'd') && !digits.empty() &&
      digits.find_first_not_of("0123456789") == std::string::npos && digits.size() < 10) {
    long long n = std::stoll(digits);
    seconds age = unit == 's' ? seconds(n) : unit == 'm' ? minutes(n) : unit == 'h' ? hours(n) : hours(24 * n);
    return system_clock::now() - age;
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  std::string t = text;
  if (!t.empty() && t.back() == 'Z') t.pop_back();
  int fields = std::sscanf(t.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &used);
  if (fields != 3) return std::nullopt;
  std::string rest = t.substr(static_cast<std::size_t>(used));
  if (!rest.empty()) {
    int used2 = 0;
    if ((rest[0] != 'T' && rest[0] != ' ') ||
        (std::sscanf(rest.c_str() + 1, "%2d:%2d%n", &h, &mi, &used2) != 2)) {
      return std::nullopt;
    }
    std::string secs = rest.substr(1 + static_cast<std::size_t>(used2));
    if (!secs.empty()) {
      int used3 = 0;
      if (std::sscanf(secs.c_str(), ":%2d%n", &s, &used3) != 1 || static_cast<std::size_t>(used3) != secs.size()) {
        return std::nullopt;
      }
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  auto days = daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return store::TimePoint(duration_cast<system_clock::duration>(hours(24 * days) + hours(h) + minutes(mi) + seconds(s)));
}

// ISO 8601 UTC with milliseconds: 2024-05-01T13:45:10.123Z.
std::string formatTime(store::TimePoint t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int millis = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

// JSON must be UTF-8; HL7 v2 values may be Latin-1 or anything. Valid UTF-8 passes
// through; any other byte above 0x7F is read as Latin-1.
std::string toUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size();) {
    auto c = static_cast<unsigned char>(in[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool valid = len > 0 && i + len <= in.size();
    for (std::size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(in[i + k]) & 0xC0) == 0x80;
    }
    if (valid && len > 1 && c < 0xC2) valid = false;  // overlong
    if (valid) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
      ++i;
    }
  }
  return out;
}

void writeSummaryFields(Writer& w, const MessageSummary& m) {
  auto str = [&](const char* key, std::string_view v) {
    w.Key(key);
    std::string u = toUtf8(v);
    w.String(u.data(), static_cast<rapidjson::SizeType>(u.size()));
  };
  w.Key("id");
  w.Int64(m.id);
  str("received_at", formatTime(m.received_at));
  str("type", m.message_type);
  str("trigger", m.trigger);
  str("control_id", m.control_id);
  str("sending_application", m.sending_application);
  str("sending_facility", m.sending_facility);
  str("patient_id", m.patient_id);
  str("listener", m.listener);
  str("peer_identity", m.peer_identity);
  str("status", store::messageStatusName(m.status));
  str("ack_code", store::ackCodeName(m.ack_code));
  str("ack_mode", m.ack_mode == store::AckMode::kEnhanced ? "enhanced" : "original");
  w.Key("duplicates");
  w.Int64(m.duplicates);
  w.Key("size_bytes");
  w.Uint64(m.size_bytes);
}

int runList(const ListOptions& o) {
  store::MessageFilter filter;
  for (auto [text, slot, name] : {std::tuple{&o.since, &filter.since, "--since"}, std::tuple{&o.until, &filter.until, "--until"}}) {
    if (text->empty()) continue;
    *slot = parseTime(*text);
    if (!*slot) {
      std::fprintf(stderr,
                   "courier messages list: %s '%s' is not a time; use 2024-05-01, 2024-05-01T13:45:00Z (UTC) "
                   "or an age like 15m, 2h, 7d.\n",
                   name, text->c_str());
      return 2;
    }
  }
  filter.message_type = o.type;
  filter.control_id = o.control_id;
  filter.patient_id = o.patient;
  filter.sending_facility = o.facility;
  filter.limit = o.limit;
  auto st = openStore(o.where);
  if (!st) {
    std::fprintf(stderr, "courier messages list: %s\n", st.error().toString().c_str());
    return 1;
  }
  auto listed = (*st)->list(filter);
  if (!listed) {
    std::fprintf(stderr, "courier messages list: %s\n", listed.error().toString().c_str());
    return 1;
  }
  if (o.json) {
    for (const auto& m : *listed) {
      rapidjson::StringBuffer buf;
      Writer w(buf);
      w.StartObject();
      writeSummaryFields(w, m);
      w.EndObject();
      std::printf("%s\n", buf.GetString());
    }
    return 0;
  }
  std::printf("%-8s  %-24s  %-8s  %-20s  %-16s  %-8s  %-3s  %s\n", "ID", "RECEIVED_AT", "TYPE", "CONTROL_ID",
              "FACILITY", "STATUS", "ACK", "DUPS");
  for (const auto& m : *listed) {
    std::string type = m.trigger.empty() ? m.message_type : m.message_type + "^" + m.trigger;
    std::printf("%-8lld  %-24s  %-8s  %-20s  %-16s  %-8s  %-3s  %lld\n", static_cast<long long>(m.id),
                formatTime(m.received_at).c_str(), type.c_str(), m.control_id.c_str(), m.sending_facility.c_str(),
                std::string(store::messageStatusName(m.status)).c_str(), std::string(store::ackCodeName(m.ack_code)).c_str(),
                static_cast<long long>(m.duplicates));
  }
  if (listed->size() == o.limit && o.limit > 0) {
    std::fprintf(stderr, "(showing the newest %zu; use --limit N, or --limit 0 for all)\n", o.limit);
  }
  return 0;
}

int runShow(const ShowOptions& o) {
  auto st = openStore(o.where);
  if (!st) {
    std::fprintf(stderr, "courier messages show: %s\n", st.error().toString().c_str());
    return 1;
  }
  auto got = (*st)->get(o.id);
  if (!got) {
    std::fprintf(stderr, "courier messages show: %s\n", got.error().toString().c_str());
    return 1;
  }
  const MessageSummary& m = got->summary;
  if (o.raw) {
    std::fwrite(got->raw.data(), 1, got->raw.size(), stdout);
    return 0;
  }
  if (o.json) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    writeSummaryFields(w, m);
    w.Key("raw");
    std::string u = toUtf8(got->raw);
    w.String(u.data(), static_cast<rapidjson::SizeType>(u.size()));
    w.EndObject();
    std::printf("%s\n", buf.GetString());
    return 0;
  }
  std::string type = m.trigger.empty() ? m.message_type : m.message_type + "^" + m.trigger;
  std::printf("id:                  %lld\n", static_cast<long long>(m.id));
  std::printf("received_at:         %s\n", formatTime(m.received_at).c_str());
  std::printf("type:                %s\n", type.c_str());
  std::printf("control_id:          %s\n", m.control_id.c_str());
  std::printf("sending_application: %s\n", m.sending_application.c_str());
  std::printf("sending_facility:    %s\n", m.sending_facility.c_str());
  std::printf("patient_id:          %s\n", m.patient_id.c_str());
  std::printf("listener:            %s\n", m.listener.c_str());
  std::printf("peer_identity:       %s\n", m.peer_identity.empty() ? "(anonymous)" : m.peer_identity.c_str());
  std::printf("status:              %s\n", std::string(store::messageStatusName(m.status)).c_str());
  std::printf("ack:                 %s (%s mode)\n", std::string(store::ackCodeName(m.ack_code)).c_str(),
              m.ack_mode == store::AckMode::kEnhanced ? "enhanced" : "original");
  std::printf("duplicates:          %lld\n", static_cast<long long>(m.duplicates));
  std::printf("size_bytes:          %zu\n\n", m.size_bytes);
  // Segments end with CR; show one per line.
  std::string text = got->raw;
  for (char& c : text) {
    if (c == '\r') c = '\n';
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
  return 0;
}

void addLocationOptions(CLI::App* cmd, StoreLocation& where) {
  cmd->add_option("--data-dir", where.data_dir,
                  "the data directory holding courier.db (default: $COURIER_DATA_DIR, else ./var)");
  cmd->add_option("--config", where.config_file, "read the store location from this config file");
}

}  // namespace

void addMessagesCommand(CLI::App& app, int& exit_code) {
  CLI::App* messages = app.add_subcommand("messages", "Search the message store and show stored messages.");
  messages->require_subcommand(1);

  auto list = std::make_shared<ListOptions>();
  CLI::App* l = messages->add_subcommand("list", "List stored messages, newest first.");
  addLocationOptions(l, list->where);
  l->add_option("--since", list->since, "received at or after: 2024-05-01[T13:45[:10]][Z] (UTC) or an age: 15m, 2h, 7d");
  l->add_option("--until", list->until, "received before (same forms as --since)");
  l->add_option("--type", list->type, "message type, e.g. ADT or ADT^A01");
  l->add_option("--control-id", list->control_id, "MSH-10 message control id");
  l->add_option("--patient", list->patient, "patient identifier (PID-3)");
  l->add_option("--facility", list->facility, "sending facility (MSH-4)");
  l->add_option("--limit", list->limit, "at most this many (default 100; 0 = all)");
  l->add_flag("--json", list->json,
              "one JSON object per line: id, received_at, type, trigger, control_id, sending_facility, status, ...");
  l->callback([list, &exit_code] { exit_code = runList(*list); });

  auto show = std::make_shared<ShowOptions>();
  CLI::App* s = messages->add_subcommand("show", "Show one stored message: its metadata and its raw segments.");
  addLocationOptions(s, show->where);
  s->add_option("id", show->id, "the message id (from `courier messages list`)")->required();
  s->add_flag("--json", show->json, "one JSON object with the metadata and the raw message");
  s->add_flag("--raw", show->raw, "only the exact stored bytes");
  s->callback([show, &exit_code] { exit_code = runShow(*show); });
}

}  // namespace courier::cli
