// courier worklist list|show|resolve: the coder's review worklist. Items are what Courier
// could not code with confidence (no code, an invalid or terminated code, negated or
// uncertain text, a charge without a crosswalk). Resolving the last open item of a
// message sends it through the pipeline again with the reviewer's codes; a claim held
// for it goes out then (if the codes are not valid for the date of service, the item
// opens again with the reason).
//
// Exit 0 on success, 1 when the store or an item is missing or cannot change, 2 on bad usage.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "engine/store/work_store.h"

namespace courier::cli {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

struct WorklistOptions {
  StoreLocation where;
  std::string state = "open";
  std::size_t limit = 100;
  std::int64_t id = 0;
  std::vector<std::string> codes;
  std::string reviewer;
  bool json = false;
};

void writeItem(Writer& w, const store::WorklistItem& item) {
  auto str = [&](const char* key, std::string_view v) {
    w.Key(key);
    std::string u = toUtf8(v);
    w.String(u.data(), static_cast<rapidjson::SizeType>(u.size()));
  };
  w.StartObject();
  w.Key("id");
  w.Int64(item.id);
  w.Key("message_id");
  w.Int64(item.message_id);
  str("kind", item.entry.kind);
  w.Key("item_index");
  w.Int(item.entry.item_index);
  str("state", item.state == store::ReviewState::kOpen ? "open" : "resolved");
  str("source", item.entry.source);
  str("reason", item.entry.reason);
  str("query", item.entry.query);
  str("suggestions", item.entry.suggestions);
  str("created_at", formatTime(item.created_at));
  w.Key("resolved_codes");
  w.StartArray();
  for (const auto& c : item.resolved_codes) w.String(c.c_str());
  w.EndArray();
  str("reviewer", item.reviewer);
  if (item.resolved_at) str("resolved_at", formatTime(*item.resolved_at));
  w.EndObject();
}

Result<std::unique_ptr<store::WorkStore>> open(const WorklistOptions& o, const char* cmd) {
  auto ws = openWorkStore(o.where);
  if (!ws) std::fprintf(stderr, "courier worklist %s: %s\n", cmd, ws.error().toString().c_str());
  return ws;
}

int runList(const WorklistOptions& o) {
  std::optional<store::ReviewState> state;
  if (o.state == "open") state = store::ReviewState::kOpen;
  else if (o.state == "resolved") state = store::ReviewState::kResolved;
  else if (o.state != "all") {
    std::fprintf(stderr, "courier worklist list: --state must be open, resolved or all, not '%s'.\n", o.state.c_str());
    return 2;
  }
  auto ws = open(o, "list");
  if (!ws) return 1;
  auto items = (*ws)->listWorklist(state, o.limit);
  if (!items) {
    std::fprintf(stderr, "courier worklist list: %s\n", items.error().toString().c_str());
    return 1;
  }
  for (const auto& item : *items) {
    if (o.json) {
      rapidjson::StringBuffer buf;
      Writer w(buf);
      writeItem(w, item);
      std::printf("%s\n", buf.GetString());
    }
  }
  if (o.json) return 0;
  std::printf("%-6s  %-8s  %-9s  %-8s  %-40s  %s\n", "ID", "MESSAGE", "KIND", "STATE", "SOURCE", "REASON");
  for (const auto& item : *items) {
    std::printf("%-6lld  %-8lld  %-9s  %-8s  %-40s  %s\n", static_cast<long long>(item.id),
                static_cast<long long>(item.message_id), item.entry.kind.c_str(),
                item.state == store::ReviewState::kOpen ? "open" : "resolved", item.entry.source.c_str(),
                item.entry.reason.c_str());
  }
  return 0;
}

int runShow(const WorklistOptions& o) {
  auto ws = open(o, "show");
  if (!ws) return 1;
  auto item = (*ws)->getWorklist(o.id);
  if (!item) {
    std::fprintf(stderr, "courier worklist show: %s\n", item.error().toString().c_str());
    return 1;
  }
  if (o.json) {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    writeItem(w, *item);
    std::printf("%s\n", buf.GetString());
    return 0;
  }
  std::printf("id:           %lld\n", static_cast<long long>(item->id));
  std::printf("message:      %lld (courier messages show %lld)\n", static_cast<long long>(item->message_id),
              static_cast<long long>(item->message_id));
  std::printf("item:         %s %d\n", item->entry.kind.c_str(), item->entry.item_index + 1);
  std::printf("state:        %s\n", item->state == store::ReviewState::kOpen ? "open" : "resolved");
  std::printf("sent:         %s\n", item->entry.source.c_str());
  std::printf("reason:       %s\n", item->entry.reason.c_str());
  if (!item->entry.suggestions.empty()) std::printf("suggestions:  %s\n", item->entry.suggestions.c_str());
  if (!item->entry.query.empty()) std::printf("query:        %s\n", item->entry.query.c_str());
  if (!item->resolved_codes.empty()) {
    std::string codes;
    for (const auto& c : item->resolved_codes) codes += (codes.empty() ? "" : " ") + c;
    std::printf("resolved:     %s by %s\n", codes.c_str(), item->reviewer.c_str());
  }
  return 0;
}

int runResolve(const WorklistOptions& o) {
  if (o.codes.empty()) {
    std::fprintf(stderr, "courier worklist resolve: give the codes to use: --code E11.9 [--code ...].\n");
    return 2;
  }
  auto ws = open(o, "resolve");
  if (!ws) return 1;
  if (auto r = (*ws)->resolveWorklist(o.id, o.codes, o.reviewer); !r) {
    std::fprintf(stderr, "courier worklist resolve: %s\n", r.error().toString().c_str());
    return 1;
  }
  std::printf("review item %lld resolved\n", static_cast<long long>(o.id));
  return 0;
}

}  // namespace

void addWorklistCommand(CLI::App& app, int& exit_code) {
  CLI::App* wl = app.add_subcommand("worklist", "The coder's review worklist: list, show and resolve items.");
  wl->require_subcommand(1);

  auto list = std::make_shared<WorklistOptions>();
  CLI::App* l = wl->add_subcommand("list", "List review items, oldest first.");
  addLocationOptions(l, list->where);
  l->add_option("--state", list->state, "open (default) | resolved | all");
  l->add_option("--limit", list->limit, "at most this many (default 100; 0 = all)");
  l->add_flag("--json", list->json, "one JSON object per line");
  l->callback([list, &exit_code] { exit_code = runList(*list); });

  auto show = std::make_shared<WorklistOptions>();
  CLI::App* s = wl->add_subcommand("show", "Show one review item: what was sent, why, suggestions, a draft query.");
  addLocationOptions(s, show->where);
  s->add_option("id", show->id, "the item id")->required();
  s->add_flag("--json", show->json, "one JSON object");
  s->callback([show, &exit_code] { exit_code = runShow(*show); });

  auto resolve = std::make_shared<WorklistOptions>();
  CLI::App* r = wl->add_subcommand("resolve", "Resolve an item with the codes to use, in sequence.");
  addLocationOptions(r, resolve->where);
  r->add_option("id", resolve->id, "the item id")->required();
  r->add_option("--code", resolve->codes, "a code to use (repeat for several, in sequence)");
  r->add_option("--reviewer", resolve->reviewer, "who decided (kept with the item)")->required();
  r->callback([resolve, &exit_code] { exit_code = runResolve(*resolve); });
}

}  // namespace courier::cli
