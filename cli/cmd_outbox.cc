// courier outbox list|show|retry|replay|stats: look into the per-destination delivery
// queues and act on them while `courier serve` runs (its deliverers pick changes up
// within their poll interval).
//
//   retry   dead-lettered items back into their queue (one id, or all of a destination,
//           narrowed by --patient / --message / --since / --until)
//   replay  the same for items already delivered (the receiver gets them again, with the
//           same idempotency key)
//
// Exit 0 on success, 1 when the store or an item is missing or unreadable, 2 on bad usage.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "engine/store/work_store.h"

namespace courier::cli {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

struct SelectOptions {
  StoreLocation where;
  std::string destination, state, patient, since, until;
  std::int64_t message = 0;
  std::int64_t id = 0;
  std::size_t limit = 100;
  bool json = false;
  bool all = false;
};

// Turns the options into a filter; prints the problem and returns nullopt on bad usage.
std::optional<store::OutboxFilter> filterOf(const SelectOptions& o, const char* cmd) {
  store::OutboxFilter f;
  f.destination = o.destination;
  f.patient_key = o.patient;
  if (o.message > 0) f.message_id = o.message;
  if (!o.state.empty()) {
    if (o.state == "pending") f.state = store::OutboxState::kPending;
    else if (o.state == "delivered") f.state = store::OutboxState::kDelivered;
    else if (o.state == "dead") f.state = store::OutboxState::kDead;
    else {
      std::fprintf(stderr, "courier outbox %s: --state must be pending, delivered or dead, not '%s'.\n", cmd,
                   o.state.c_str());
      return std::nullopt;
    }
  }
  for (auto [text, slot, name] : {std::tuple{&o.since, &f.since, "--since"}, std::tuple{&o.until, &f.until, "--until"}}) {
    if (text->empty()) continue;
    *slot = parseTime(*text);
    if (!*slot) {
      std::fprintf(stderr, "courier outbox %s: %s '%s' is not a time; use 2024-05-01, 2024-05-01T13:45:00Z or 2h.\n",
                   cmd, name, text->c_str());
      return std::nullopt;
    }
  }
  f.limit = o.limit;
  return f;
}

void writeItem(Writer& w, const store::OutboxItem& item, bool full) {
  auto str = [&](const char* key, std::string_view v) {
    w.Key(key);
    std::string u = toUtf8(v);
    w.String(u.data(), static_cast<rapidjson::SizeType>(u.size()));
  };
  w.StartObject();
  w.Key("id");
  w.Int64(item.id);
  str("destination", item.destination);
  w.Key("message_id");
  w.Int64(item.message_id);
  str("route", item.route);
  str("state", store::outboxStateName(item.state));
  w.Key("attempts");
  w.Uint(item.attempts);
  str("created_at", formatTime(item.created_at));
  str("next_attempt_at", formatTime(item.next_attempt_at));
  if (item.delivered_at) str("delivered_at", formatTime(*item.delivered_at));
  str("idempotency_key", item.idempotency_key);
  str("content_type", item.content_type);
  str("patient", item.patient_key);
  str("last_error", item.last_error);
  if (full) {
    str("last_response", item.last_response);
    str("payload", item.payload);
  }
  w.EndObject();
}

int runList(const SelectOptions& o) {
  auto f = filterOf(o, "list");
  if (!f) return 2;
  auto ws = openWorkStore(o.where);
  if (!ws) {
    std::fprintf(stderr, "courier outbox list: %s\n", ws.error().toString().c_str());
    return 1;
  }
  auto items = (*ws)->listOutbox(*f);
  if (!items) {
    std::fprintf(stderr, "courier outbox list: %s\n", items.error().toString().c_str());
    return 1;
  }
  if (o.json) {
    for (const auto& item : *items) {
      rapidjson::StringBuffer buf;
      Writer w(buf);
      writeItem(w, item, false);
      std::printf("%s\n", buf.GetString());
    }
    return 0;
  }
  std::printf("%-8s  %-18s  %-8s  %-9s  %-5s  %-24s  %s\n", "ID", "DESTINATION", "MESSAGE", "STATE", "TRIES",
              "CREATED_AT", "LAST_ERROR");
  for (const auto& item : *items) {
    std::printf("%-8lld  %-18s  %-8lld  %-9s  %-5u  %-24s  %s\n", static_cast<long long>(item.id),
                item.destination.c_str(), static_cast<long long>(item.message_id),
                std::string(store::outboxStateName(item.state)).c_str(), item.attempts,
                formatTime(item.created_at).c_str(), item.last_error.c_str());
  }
  if (items->size() == o.limit && o.limit > 0) {
    std::fprintf(stderr, "(showing the newest %zu; use --limit N, or --limit 0 for all)\n", o.limit);
  }
  return 0;
}

int runShow(const SelectOptions& o) {
  auto ws = openWorkStore(o.where);
  if (!ws) {
    std::fprintf(stderr, "courier outbox show: %s\n", ws.error().toString().c_str());
    return 1;
  }
  auto item = (*ws)->getOutbox(o.id);
  if (!item) {
    std::fprintf(stderr, "courier outbox show: %s\n", item.error().toString().c_str());
    return 1;
  }
  if (o.json) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    writeItem(w, *item, true);
    std::printf("%s\n", buf.GetString());
    return 0;
  }
  std::printf("id:              %lld\n", static_cast<long long>(item->id));
  std::printf("destination:     %s (route %s)\n", item->destination.c_str(), item->route.c_str());
  std::printf("message:         %lld\n", static_cast<long long>(item->message_id));
  std::printf("state:           %s after %u tries\n", std::string(store::outboxStateName(item->state)).c_str(),
              item->attempts);
  std::printf("created_at:      %s\n", formatTime(item->created_at).c_str());
  if (item->state == store::OutboxState::kPending) {
    std::printf("next_attempt_at: %s\n", formatTime(item->next_attempt_at).c_str());
  }
  if (item->delivered_at) std::printf("delivered_at:    %s\n", formatTime(*item->delivered_at).c_str());
  std::printf("idempotency_key: %s\n", item->idempotency_key.c_str());
  std::printf("content_type:    %s\n", item->content_type.c_str());
  if (!item->last_error.empty()) std::printf("last_error:      %s\n", item->last_error.c_str());
  if (!item->last_response.empty()) std::printf("last_response:\n%s\n", item->last_response.c_str());
  std::printf("\n");
  std::string text = item->payload;
  for (char& c : text) {
    if (c == '\r') c = '\n';
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
  return 0;
}

// retry (dead -> pending) and replay (delivered -> pending).
int runRequeue(const SelectOptions& o, store::OutboxState from, const char* cmd) {
  auto f = filterOf(o, cmd);
  if (!f) return 2;
  auto ws = openWorkStore(o.where);
  if (!ws) {
    std::fprintf(stderr, "courier outbox %s: %s\n", cmd, ws.error().toString().c_str());
    return 1;
  }
  if (o.id > 0) {
    auto item = (*ws)->getOutbox(o.id);
    if (!item) {
      std::fprintf(stderr, "courier outbox %s: %s\n", cmd, item.error().toString().c_str());
      return 1;
    }
    if (item->state != from) {
      std::fprintf(stderr, "courier outbox %s: item %lld is %s, not %s.\n", cmd, static_cast<long long>(o.id),
                   std::string(store::outboxStateName(item->state)).c_str(),
                   std::string(store::outboxStateName(from)).c_str());
      return 1;
    }
    f->destination = item->destination;
    f->message_id = item->message_id;
  } else if (f->destination.empty() || (!o.all && f->patient_key.empty() && !f->message_id && !f->since && !f->until)) {
    std::fprintf(stderr,
                 "courier outbox %s: name an item id, or --destination NAME with --all or a narrower selection "
                 "(--patient, --message, --since, --until).\n",
                 cmd);
    return 2;
  }
  f->state = from;
  f->limit = 0;
  auto n = (*ws)->requeueOutbox(*f);
  if (!n) {
    std::fprintf(stderr, "courier outbox %s: %s\n", cmd, n.error().toString().c_str());
    return 1;
  }
  std::printf("%lld item(s) queued again\n", static_cast<long long>(*n));
  return 0;
}

int runStats(const SelectOptions& o) {
  auto ws = openWorkStore(o.where);
  if (!ws) {
    std::fprintf(stderr, "courier outbox stats: %s\n", ws.error().toString().c_str());
    return 1;
  }
  auto stats = (*ws)->outboxStats();
  if (!stats) {
    std::fprintf(stderr, "courier outbox stats: %s\n", stats.error().toString().c_str());
    return 1;
  }
  std::printf("%-20s  %9s  %9s  %9s  %s\n", "DESTINATION", "PENDING", "DELIVERED", "DEAD", "OLDEST_PENDING");
  for (const auto& d : *stats) {
    std::printf("%-20s  %9lld  %9lld  %9lld  %s\n", d.destination.c_str(), static_cast<long long>(d.pending),
                static_cast<long long>(d.delivered), static_cast<long long>(d.dead),
                d.oldest_pending ? formatTime(*d.oldest_pending).c_str() : "-");
  }
  return 0;
}

void addSelection(CLI::App* cmd, SelectOptions& o) {
  cmd->add_option("--destination", o.destination, "only this destination");
  cmd->add_option("--patient", o.patient, "only this patient (PID-3)");
  cmd->add_option("--message", o.message, "only items made from this message id");
  cmd->add_option("--since", o.since, "created at or after: 2024-05-01[T13:45[:10]][Z] (UTC) or an age: 15m, 2h, 7d");
  cmd->add_option("--until", o.until, "created before (same forms as --since)");
}

}  // namespace

void addOutboxCommand(CLI::App& app, int& exit_code) {
  CLI::App* outbox = app.add_subcommand("outbox", "Look into the delivery queues; retry or replay deliveries.");
  outbox->require_subcommand(1);

  auto list = std::make_shared<SelectOptions>();
  CLI::App* l = outbox->add_subcommand("list", "List outbox items, newest first.");
  addLocationOptions(l, list->where);
  addSelection(l, *list);
  l->add_option("--state", list->state, "pending | delivered | dead");
  l->add_option("--limit", list->limit, "at most this many (default 100; 0 = all)");
  l->add_flag("--json", list->json, "one JSON object per line");
  l->callback([list, &exit_code] { exit_code = runList(*list); });

  auto show = std::make_shared<SelectOptions>();
  CLI::App* s = outbox->add_subcommand("show", "Show one item: its tries, the last answer and the payload.");
  addLocationOptions(s, show->where);
  s->add_option("id", show->id, "the item id (from `courier outbox list`)")->required();
  s->add_flag("--json", show->json, "one JSON object");
  s->callback([show, &exit_code] { exit_code = runShow(*show); });

  auto retry = std::make_shared<SelectOptions>();
  CLI::App* r = outbox->add_subcommand("retry", "Put dead-lettered items back in their queue.");
  addLocationOptions(r, retry->where);
  addSelection(r, *retry);
  r->add_option("id", retry->id, "one item id");
  r->add_flag("--all", retry->all, "every dead item of --destination");
  r->callback([retry, &exit_code] { exit_code = runRequeue(*retry, store::OutboxState::kDead, "retry"); });

  auto replay = std::make_shared<SelectOptions>();
  CLI::App* p = outbox->add_subcommand("replay", "Deliver already delivered items again (same idempotency keys).");
  addLocationOptions(p, replay->where);
  addSelection(p, *replay);
  p->add_option("id", replay->id, "one item id");
  p->add_flag("--all", replay->all, "every delivered item of --destination");
  p->callback([replay, &exit_code] { exit_code = runRequeue(*replay, store::OutboxState::kDelivered, "replay"); });

  auto stats = std::make_shared<SelectOptions>();
  CLI::App* st = outbox->add_subcommand("stats", "Pending, delivered and dead items per destination.");
  addLocationOptions(st, stats->where);
  st->callback([stats, &exit_code] { exit_code = runStats(*stats); });
}

}  // namespace courier::cli
