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
#include "cli/store_access.h"
#include "engine/config/config.h"
#include "engine/store/message_store.h"
#include "engine/store/store_factory.h"

namespace courier::cli {
namespace {

namespace fs = std::filesystem;
using store::MessageSummary;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

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
  // What the pipeline made of it (none yet, or a store without the pipeline's tables).
  std::optional<store::MessageOutcome> outcome;
  if (!o.raw) {
    if (auto work = openWorkStore(o.where)) {
      if (auto r = (*work)->outcome(m.id); r && r->has_value()) outcome = std::move(**r);
    }
  }
  if (o.raw) {
    std::fwrite(got->raw.data(), 1, got->raw.size(), stdout);
    return 0;
  }
  if (o.json) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    writeSummaryFields(w, m);
    if (outcome) {
      w.Key("outcome");
      w.String(outcome->outcome.c_str());
      w.Key("outcome_detail");
      const std::string detail = toUtf8(outcome->detail);
      w.String(detail.data(), static_cast<rapidjson::SizeType>(detail.size()));
      w.Key("codes");
      w.String(outcome->codes.c_str());
      w.Key("processed_at");
      w.String(formatTime(outcome->processed_at).c_str());
    }
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
  if (outcome) {
    std::printf("outcome:             %s at %s\n", outcome->outcome.c_str(), formatTime(outcome->processed_at).c_str());
    if (!outcome->codes.empty()) std::printf("codes:               %s\n", outcome->codes.c_str());
    if (!outcome->detail.empty()) std::printf("detail:              %s\n", outcome->detail.c_str());
  } else {
    std::printf("outcome:             (not processed yet)\n");
  }
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
