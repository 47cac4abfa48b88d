// Config loading: YAML (yaml-cpp) into the typed structs of config.h.
//
// yaml-cpp throws; every call into it that can throw stays inside this file and is
// caught at the boundary (parseConfig), so nothing escapes into the engine. The loader
// never stops at the first problem: each check appends a ConfigError and goes on with a
// default, so one run shows the user everything to fix.
#include "engine/config/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace courier::config {
namespace fs = std::filesystem;

std::string_view logLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "info";
}

std::string_view clientCertModeName(ClientCertMode mode) {
  switch (mode) {
    case ClientCertMode::kNone: return "none";
    case ClientCertMode::kOptional: return "optional";
    case ClientCertMode::kRequired: return "required";
  }
  return "none";
}

std::string_view ackPolicyName(AckPolicy policy) {
  switch (policy) {
    case AckPolicy::kAuto: return "auto";
    case AckPolicy::kOriginal: return "original";
    case AckPolicy::kEnhanced: return "enhanced";
  }
  return "auto";
}

const ListenerConfig* Config::findListener(std::string_view name) const {
  for (const auto& l : listeners) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

const DestinationConfig* Config::findDestination(std::string_view name) const {
  for (const auto& d : destinations) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string_view destinationKindName(DestinationKind kind) {
  switch (kind) {
    case DestinationKind::kMllp: return "mllp";
    case DestinationKind::kHttps: return "https";
    case DestinationKind::kFile: return "file";
  }
  return "https";
}

std::string_view payloadFormatName(PayloadFormat format) {
  switch (format) {
    case PayloadFormat::kHl7v2: return "hl7v2";
    case PayloadFormat::kFhirBundle: return "fhir-bundle";
    case PayloadFormat::kFhirClaim: return "fhir-claim";
    case PayloadFormat::kX12_837P: return "x12-837p";
    case PayloadFormat::kNdjson: return "ndjson";
  }
  return "fhir-bundle";
}

std::string ConfigError::toString() const {
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line) + ':' + std::to_string(column);
  }
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

Error ConfigError::toError() const {
  std::string where = file;
  if (line > 0) where += ':' + std::to_string(line) + ':' + std::to_string(column);
  std::string msg = key_path.empty() ? message : key_path + ": " + message;
  return Error(ErrorCode::kConfig, std::move(msg), std::move(where));
}

EnvLookup processEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

namespace {

// Edit distance, to suggest the key the user probably meant.
std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string quoteList(const std::vector<std::string_view>& items, std::string_view last_joiner = " or ") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += (i + 1 == items.size()) ? std::string(last_joiner) : std::string(", ");
    out += '\'';
    out += items[i];
    out += '\'';
  }
  return out;
}

template <typename T>
struct EnumName {
  std::string_view name;
  T value;
};

// A listener's address and port, as written, for the duplicate check.
struct Bound {
  std::string address;
  std::uint16_t port;
  std::size_t index;
  int line;
};

class Loader {
 public:
  Loader(std::string file, const EnvLookup& env, const LoadOptions& options)
      : file_(std::move(file)), env_(env), options_(options) {}

  ConfigErrors& errors() { return errors_; }

  void error(const YAML::Mark& mark, std::string path, std::string message) {
    ConfigError e;
    e.file = file_;
    if (mark.line >= 0) {
      e.line = mark.line + 1;
      e.column = mark.column + 1;
    }
    e.key_path = std::move(path);
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }

  Config load(const YAML::Node& root) {
    Config config;
    if (!root.IsDefined() || root.IsNull()) {
      error(markOf(root), "", "the file is empty; it needs at least a 'listeners' section.");
      return config;
    }
    if (!root.IsMap()) {
      error(markOf(root), "", "the top level must be a mapping of keys like 'data_dir:' and 'listeners:'.");
      return config;
    }
    checkKeys(root, "", {"data_dir", "log_level", "io_threads", "store", "listeners", "pipeline", "destinations",
                         "routes", "subscriptions", "record"});

    std::string data_dir = "./var";
    if (auto v = string(root["data_dir"], "data_dir")) data_dir = *v;
    if (options_.data_dir_override) data_dir = options_.data_dir_override->string();
    if (data_dir.empty()) {
      error(markOf(root["data_dir"]), "data_dir", "the data directory must not be empty.");
      data_dir = "./var";
    }
    std::error_code ec;
    fs::path abs = fs::absolute(fs::path(data_dir), ec);
    config.data_dir = (ec ? fs::path(data_dir) : abs).lexically_normal();
    data_dir_ = config.data_dir;

    config.log_level = enumeration<LogLevel>(root["log_level"], "log_level", LogLevel::kInfo,
                                             {{"trace", LogLevel::kTrace},
                                              {"debug", LogLevel::kDebug},
                                              {"info", LogLevel::kInfo},
                                              {"warn", LogLevel::kWarn},
                                              {"error", LogLevel::kError},
                                              {"off", LogLevel::kOff}});
    config.io_threads = integer(root["io_threads"], "io_threads", 0, 0, 256,
                                "the number of I/O threads must be between 0 (one per core) and 256.");
    config.store = store(root["store"], "store");
    loadListeners(root["listeners"], config.listeners);
    // Destinations before routes and the pipeline's application acks: they name them.
    loadDestinations(root["destinations"], config.destinations);
    config.pipeline = pipeline(root["pipeline"], "pipeline", config);
    loadRoutes(root["routes"], config);
    config.subscriptions = subscriptions(root["subscriptions"], "subscriptions");
    config.record = record(root["record"], "record");
    return config;
  }

 private:
  // ---- scalars --------------------------------------------------------------------

  static bool present(const YAML::Node& node) { return node.IsDefined(); }
  // A node's position; yaml-cpp throws when asked for the mark of a missing key.
  static YAML::Mark markOf(const YAML::Node& node) {
    return node.IsDefined() ? node.Mark() : YAML::Mark::null_mark();
  }

  // Expands ${NAME} and ${NAME:-default}; `$$` is a literal `$`.
  std::optional<std::string> expand(const std::string& in, const YAML::Mark& mark,
                                    const std::string& path) {
    std::string out;
    bool ok = true;
    for (std::size_t i = 0; i < in.size(); ++i) {
      char c = in[i];
      if (c != '$' || i + 1 >= in.size()) {
        out += c;
        continue;
      }
      if (in[i + 1] == '$') {
        out += '$';
        ++i;
        continue;
      }
      if (in[i + 1] != '{') {
        out += c;
        continue;
      }
      std::size_t close = in.find('}', i + 2);
      if (close == std::string::npos) {
        error(mark, path, "a '${' is not closed by '}'; write ${NAME} or ${NAME:-default} (or $$ for a literal $).");
        return std::nullopt;
      }
      std::string_view body(in.data() + i + 2, close - i - 2);
      std::string_view name = body;
      std::optional<std::string_view> fallback;
      if (auto sep = body.find(":-"); sep != std::string_view::npos) {
        name = body.substr(0, sep);
        fallback = body.substr(sep + 2);
      }
      bool valid_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
      for (char n : name) {
        if (!std::isalnum(static_cast<unsigned char>(n)) && n != '_') valid_name = false;
      }
      if (!valid_name) {
        error(mark, path,
              "'${" + std::string(body) +
                  "}' is not a valid variable reference; names use letters, digits and '_', as in ${COURIER_DATA_DIR:-./var}.");
        ok = false;
        i = close;
        continue;
      }
      std::optional<std::string> value = env_ ? env_(name) : std::nullopt;
      if (value && (!fallback || !value->empty())) {
        out += *value;
      } else if (fallback) {
        out += *fallback;
      } else {
        error(mark, path,
              "the environment variable " + std::string(name) +
                  " is not set; set it, or give a default as in ${" + std::string(name) + ":-value}.");
        ok = false;
      }
      i = close;
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // A scalar value after expansion; nullopt (with an error) when it is not a scalar.
  std::optional<std::string> string(const YAML::Node& node, const std::string& path) {
    if (!present(node)) return std::nullopt;
    if (node.IsNull()) {
      error(markOf(node), path, "this key has no value; write a value after the ':' or remove the key.");
      return std::nullopt;
    }
    if (!node.IsScalar()) {
      error(markOf(node), path, std::string("expected a single value here, but found a ") +
                                   (node.IsMap() ? "mapping" : "list") + ".");
      return std::nullopt;
    }
    return expand(node.Scalar(), markOf(node), path);
  }

  std::uint64_t integer(const YAML::Node& node, const std::string& path, std::uint64_t fallback,
                        std::uint64_t min, std::uint64_t max, const std::string& range_message) {
    auto text = string(node, path);
    if (!text) return fallback;
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc() || end != text->data() + text->size() || text->empty()) {
      error(markOf(node), path, "expected a whole number, but found '" + *text + "'.");
      return fallback;
    }
    if (v < min || v > max) {
      error(markOf(node), path, range_message + " It is " + *text + ".");
      return fallback;
    }
    return v;
  }

  bool boolean(const YAML::Node& node, const std::string& path, bool fallback) {
    auto text = string(node, path);
    if (!text) return fallback;
    std::string t = *text;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "true" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "no" || t == "off") return false;
    error(markOf(node), path, "expected true or false, but found '" + *text + "'.");
    return fallback;
  }

  template <typename T>
  T enumeration(const YAML::Node& node, const std::string& path, T fallback,
                std::initializer_list<EnumName<T>> names) {
    auto text = string(node, path);
    if (!text) return fallback;
    std::vector<std::string_view> options;
    for (const auto& n : names) {
      if (n.name == *text) return n.value;
      options.push_back(n.name);
    }
    error(markOf(node), path, "'" + *text + "' is not one of " + quoteList(options) + ".");
    return fallback;
  }

  // "500ms", "30s", "5m", "1h", "250us"; a bare "0" is zero.
  std::optional<std::chrono::microseconds> duration(const YAML::Node& node, const std::string& path,
                                                    std::chrono::microseconds min,
                                                    std::chrono::microseconds max,
                                                    const std::string& range_message) {
    auto text = string(node, path);
    if (!text) return std::nullopt;
    const std::string& t = *text;
    std::size_t digits = 0;
    while (digits < t.size() && std::isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
    std::string unit = t.substr(digits);
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + digits, n);
    bool number_ok = digits > 0 && ec == std::errc() && n < (1ULL << 40);
    std::optional<std::chrono::microseconds> value;
    if (number_ok) {
      if (unit == "us") value = std::chrono::microseconds(n);
      else if (unit == "ms") value = std::chrono::milliseconds(n);
      else if (unit == "s") value = std::chrono::seconds(n);
      else if (unit == "m") value = std::chrono::minutes(n);
      else if (unit == "h") value = std::chrono::hours(n);
      else if (unit.empty() && n == 0) value = std::chrono::microseconds(0);
    }
    if (!value) {
      error(markOf(node), path,
            "expected a duration with a unit, like 500ms, 30s, 5m or 1h, but found '" + t + "'.");
      return std::nullopt;
    }
    if (*value < min || *value > max) {
      error(markOf(node), path, range_message + " It is " + t + ".");
      return std::nullopt;
    }
    return value;
  }

  // "1048576", "64KiB", "1MiB", "1GiB".
  std::optional<std::uint64_t> size(const YAML::Node& node, const std::string& path, std::uint64_t min,
                                    std::uint64_t max, const std::string& range_message) {
    auto text = string(node, path);
    if (!text) return std::nullopt;
    const std::string& t = *text;
    std::size_t digits = 0;
    while (digits < t.size() && std::isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
    std::string unit = t.substr(digits);
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + digits, n);
    std::uint64_t mult = 0;
    if (unit.empty() || unit == "B") mult = 1;
    else if (unit == "KiB") mult = 1ULL << 10;
    else if (unit == "MiB") mult = 1ULL << 20;
    else if (unit == "GiB") mult = 1ULL << 30;
    if (digits == 0 || ec != std::errc() || mult == 0 || n > (1ULL << 40)) {
      error(markOf(node), path,
            "expected a size in bytes, optionally with a unit (KiB, MiB, GiB), like 1MiB, but found '" + t + "'.");
      return std::nullopt;
    }
    std::uint64_t v = n * mult;
    if (v < min || v > max) {
      error(markOf(node), path, range_message + " It is " + t + ".");
      return std::nullopt;
    }
    return v;
  }

  fs::path resolve(const std::string& p) const {
    fs::path path(p);
    if (path.is_relative()) path = data_dir_ / path;
    return path.lexically_normal();
  }

  // A file the server will read: resolved against the data dir, checked when asked.
  // `dev_certs_hint`: the missing-file message mentions the development certificates
  // (listener files, which `courier serve` creates); off for a partner's files.
  fs::path file(const YAML::Node& node, const std::string& path, const std::string& fallback,
                const std::string& what, bool dev_certs_hint = true) {
    std::string text = fallback;
    if (auto v = string(node, path)) text = *v;
    if (text.empty()) {
      error(markOf(node), path, "the " + what + " path must not be empty.");
      return {};
    }
    fs::path resolved = resolve(text);
    if (options_.check_files) {
      std::error_code ec;
      bool exists = fs::exists(resolved, ec);
      // Point at the value when written, else at the enclosing section.
      YAML::Mark mark = present(node) ? markOf(node) : section_mark_;
      std::string intro = present(node) ? std::string()
                                        : path.substr(path.rfind('.') + 1) + " is not set, so the default " +
                                              fallback + " is used: ";
      if (!exists && !dev_certs_hint) {
        error(mark, path,
              intro + "the " + what + " " + resolved.string() +
                  " does not exist. Relative paths are inside the data directory (" + data_dir_.string() + ").");
      } else if (!exists) {
        error(mark, path,
              intro + "the " + what + " " + resolved.string() +
                  " does not exist. Relative paths are inside the data directory (" + data_dir_.string() +
                  "); `courier serve` creates the development certificates there on first run (or run certs/make_dev_certs.sh " +
                  (data_dir_ / "certs").string() + ").");
      } else if (!fs::is_regular_file(resolved, ec)) {
        error(mark, path, "the " + what + " " + resolved.string() + " is not a regular file.");
      } else if (::access(resolved.c_str(), R_OK) != 0) {
        error(mark, path, "the " + what + " " + resolved.string() + " exists but cannot be read by this user.");
      }
    }
    return resolved;
  }

  // ---- structure ------------------------------------------------------------------

  // Reports unknown and repeated keys of a mapping.
  void checkKeys(const YAML::Node& map, const std::string& path, std::vector<std::string_view> allowed) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        error(markOf(key), path, "keys must be plain words like 'port'.");
        continue;
      }
      const std::string& k = key.Scalar();
      std::string where = path.empty() ? k : path + "." + k;
      if (!seen.insert(k).second) {
        error(markOf(key), where, "the key '" + k + "' appears twice here; keep one.");
        continue;
      }
      if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
      std::string msg = "unknown key '" + k + "'";
      std::string_view best;
      std::size_t best_d = 3;
      for (auto a : allowed) {
        std::size_t d = editDistance(k, a);
        if (d < best_d) {
          best_d = d;
          best = a;
        }
      }
      if (!best.empty()) {
        msg += "; did you mean '" + std::string(best) + "'?";
      } else {
        msg += (path.empty() ? "; known keys at the top level are " : "; known keys here are ") +
               quoteList(allowed, " and ") + ".";
      }
      if (msg.back() != '.' && msg.back() != '?') msg += '.';
      error(markOf(key), where, msg);
    }
  }

  bool requireMap(const YAML::Node& node, const std::string& path) {
    if (node.IsMap()) return true;
    if (node.IsNull()) {
      error(markOf(node), path, "this section is empty; give it keys or remove it.");
    } else {
      error(markOf(node), path, "expected a mapping of keys here (indented 'key: value' lines).");
    }
    return false;
  }

  StoreConfig store(const YAML::Node& node, const std::string& path) {
    StoreConfig s;
    s.sqlite_path = resolve("courier.db");
    if (!present(node) || !requireMap(node, path)) return s;
    checkKeys(node, path, {"kind", "path", "group_commit", "max_pending", "postgres"});
    s.kind = enumeration<StoreKind>(node["kind"], path + ".kind", StoreKind::kSqlite,
                                    {{"sqlite", StoreKind::kSqlite}, {"postgres", StoreKind::kPostgres}});
    postgres(node, path, s);
    if (auto p = string(node["path"], path + ".path")) {
      if (p->empty()) error(markOf(node["path"]), path + ".path", "the database path must not be empty.");
      else s.sqlite_path = resolve(*p);
    }
    s.max_pending = integer(node["max_pending"], path + ".max_pending", s.max_pending, 1, 10'000'000,
                            "max_pending must be between 1 and 10000000 messages.");
    const YAML::Node gc = node["group_commit"];
    std::string gp = path + ".group_commit";
    if (present(gc) && requireMap(gc, gp)) {
      checkKeys(gc, gp, {"max_batch", "max_delay"});
      s.group_commit.max_batch = integer(gc["max_batch"], gp + ".max_batch", s.group_commit.max_batch, 1, 100000,
                                         "max_batch must be between 1 and 100000 messages per commit.");
      if (auto d = duration(gc["max_delay"], gp + ".max_delay", std::chrono::microseconds(0),
                            std::chrono::seconds(1), "max_delay must be between 0 and 1s.")) {
        s.group_commit.max_delay = *d;
      }
    }
    return s;
  }

  // store.postgres: required with kind: postgres, refused with kind: sqlite (as is
  // store.path with kind: postgres), so a half-edited switch of kind is caught at load.
  void postgres(const YAML::Node& node, const std::string& path, StoreConfig& s) {
    const YAML::Node pg = node["postgres"];
    const std::string pp = path + ".postgres";
    if (s.kind != StoreKind::kPostgres) {
      if (present(pg)) error(markOf(pg), pp, "'postgres' applies to 'kind: postgres' only; this store is sqlite.");
      return;
    }
    if (present(node["path"])) {
      error(markOf(node["path"]), path + ".path", "'path' applies to 'kind: sqlite' only; remove it.");
    }
    if (!present(pg)) {
      error(markOf(node["kind"]), pp,
            "kind: postgres needs a 'postgres' section with a conninfo, e.g. "
            "postgres: {conninfo: \"host=db1,db2 dbname=courier target_session_attrs=read-write\"}.");
      return;
    }
    if (!requireMap(pg, pp)) return;
    checkKeys(pg, pp, {"conninfo", "pool"});
    const YAML::Node ci = pg["conninfo"];
    auto c = string(ci, pp + ".conninfo");  // reports a bad ${...} itself
    if (c) s.postgres.conninfo = *c;
    if ((c && c->empty()) || !present(ci)) {
      error(markOf(present(ci) ? ci : pg), pp + ".conninfo",
            "a libpq connection string is required, e.g. \"host=127.0.0.1 port=5432 dbname=courier\".");
    }
    s.postgres.pool = integer(pg["pool"], pp + ".pool", s.postgres.pool, 1, 64,
                              "pool must be between 1 and 64 read connections.");
  }

  void loadListeners(const YAML::Node& node, std::vector<ListenerConfig>& out) {
    if (!present(node)) return;
    if (node.IsNull()) return;  // "listeners:" with nothing: no listeners
    if (!node.IsSequence()) {
      error(markOf(node), "listeners", "expected a list of listeners, each starting with '- name: ...'.");
      return;
    }
    std::map<std::string, std::pair<std::size_t, int>> names;
    std::vector<Bound> bound;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      std::string path = "listeners[" + std::to_string(i) + "]";
      if (!requireMap(item, path)) continue;
      ListenerConfig l = listener(item, path);
      if (!l.name.empty()) {
        auto [it, inserted] = names.emplace(l.name, std::make_pair(i, markOf(item).line + 1));
        if (!inserted) {
          error(markOf(item["name"]), path + ".name",
                "the listener name '" + l.name + "' is already used by listeners[" +
                    std::to_string(it->second.first) + "] (line " + std::to_string(it->second.second) +
                    "); names must be unique.");
        }
      }
      if (l.port != 0 && port_valid_) {
        for (const auto& b : bound) {
          bool any = b.address == "0.0.0.0" || b.address == "::" || l.address == "0.0.0.0" || l.address == "::";
          if (b.port == l.port && (b.address == l.address || any)) {
            YAML::Mark m = present(item["port"]) ? markOf(item["port"]) : markOf(item);
            error(m, path + ".port",
                  "port " + std::to_string(l.port) + " on " + l.address + " is already used by listeners[" +
                      std::to_string(b.index) + "] (line " + std::to_string(b.line) +
                      "); two listeners cannot share a port.");
            break;
          }
        }
        bound.push_back({l.address, l.port, i, markOf(item).line + 1});
      }
      out.push_back(std::move(l));
    }
  }

  ListenerConfig listener(const YAML::Node& node, const std::string& path) {
    ListenerConfig l;
    checkKeys(node, path, {"name", "kind", "address", "port", "tls", "allowed_clients", "limits", "ack", "http"});
    if (auto n = string(node["name"], path + ".name")) {
      bool ok = !n->empty();
      for (char c : *n) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') ok = false;
      }
      if (!ok) {
        error(markOf(node["name"]), path + ".name",
              "a listener name uses letters, digits, '-', '_' and '.', like 'mllp-main'.");
      }
      l.name = *n;
    } else if (!present(node["name"])) {
      error(markOf(node), path, "this listener has no 'name'; give each listener a unique name, like 'mllp-main'.");
    }
    l.kind = enumeration<ListenerKind>(node["kind"], path + ".kind", ListenerKind::kMllp,
                                       {{"mllp", ListenerKind::kMllp}, {"http", ListenerKind::kHttp}});
    if (l.kind == ListenerKind::kHttp) l.port = 8443;
    if (auto a = string(node["address"], path + ".address")) {
      unsigned char buf[16];
      if (::inet_pton(AF_INET, a->c_str(), buf) == 1 || ::inet_pton(AF_INET6, a->c_str(), buf) == 1) {
        l.address = *a;
      } else {
        error(markOf(node["address"]), path + ".address",
              "'" + *a + "' is not an IP address; use one like 127.0.0.1 (this machine only), 0.0.0.0 (all IPv4) or ::.");
      }
    }
    std::size_t errors_before = errors_.size();
    l.port = static_cast<std::uint16_t>(integer(node["port"], path + ".port", l.port, 0, 65535,
                                                "the port must be between 1 and 65535 (0 picks any free port)."));
    // A port that failed to load is not compared with the others (no follow-up error).
    port_valid_ = errors_.size() == errors_before;

    // TLS first: the client list below depends on it.
    section_mark_ = markOf(node);
    const YAML::Node tls = node["tls"];
    std::string tp = path + ".tls";
    bool tls_map = present(tls) && requireMap(tls, tp);
    bool tls_unknown = false;
    if (tls_map) {
      checkKeys(tls, tp, {"enabled", "cert_file", "key_file", "ca_file", "client_certs"});
      section_mark_ = markOf(tls);
      std::size_t before = errors_.size();
      l.tls.enabled = boolean(tls["enabled"], tp + ".enabled", true);
      // Unreadable 'enabled': skip the TLS file checks rather than guess.
      if (errors_.size() != before) tls_unknown = true;
      l.tls.client_certs = enumeration<ClientCertMode>(tls["client_certs"], tp + ".client_certs", ClientCertMode::kNone,
                                                       {{"none", ClientCertMode::kNone},
                                                        {"optional", ClientCertMode::kOptional},
                                                        {"required", ClientCertMode::kRequired}});
    }
    const YAML::Node none(YAML::NodeType::Undefined);  // "not written"
    auto tlsKey = [&](const char* k) { return tls_map ? tls[k] : none; };
    if (tls_unknown) {
      // reported above
    } else if (l.tls.enabled) {
      l.tls.cert_file = file(tlsKey("cert_file"), tp + ".cert_file", "certs/server.crt", "certificate file");
      l.tls.key_file = file(tlsKey("key_file"), tp + ".key_file", "certs/server.key", "private key file");
      if (l.tls.client_certs != ClientCertMode::kNone) {
        l.tls.ca_file = file(tlsKey("ca_file"), tp + ".ca_file", "certs/ca.crt", "CA file");
      } else if (tls_map && present(tls["ca_file"])) {
        l.tls.ca_file = file(tls["ca_file"], tp + ".ca_file", "", "CA file");
      }
    } else if (l.tls.client_certs != ClientCertMode::kNone) {
      error(markOf(tls["client_certs"]), tp + ".client_certs",
            "client certificates need TLS; set tls.enabled to true or client_certs to none.");
    }

    const YAML::Node clients = node["allowed_clients"];
    std::string cp = path + ".allowed_clients";
    if (present(clients) && !clients.IsNull()) {
      if (!clients.IsSequence()) {
        error(markOf(clients), cp, "expected a list of clients, each '- identity: ...' with 'sending_facilities: [...]'.");
      } else {
        if (!l.tls.enabled || l.tls.client_certs == ClientCertMode::kNone) {
          error(markOf(clients), cp,
                "allowed_clients are recognised by their certificates, so this listener needs TLS with "
                "client_certs set to optional or required.");
        }
        std::set<std::string> identities;
        for (std::size_t j = 0; j < clients.size(); ++j) {
          const YAML::Node c = clients[j];
          std::string ip = cp + "[" + std::to_string(j) + "]";
          if (!requireMap(c, ip)) continue;
          checkKeys(c, ip, {"identity", "sending_facilities"});
          AllowedClient client;
          if (auto id = string(c["identity"], ip + ".identity")) {
            if (id->empty()) error(markOf(c["identity"]), ip + ".identity", "the identity must not be empty.");
            else if (!identities.insert(*id).second)
              error(markOf(c["identity"]), ip + ".identity",
                    "the identity '" + *id + "' is listed twice; merge its sending facilities into one entry.");
            client.identity = *id;
          } else if (!present(c["identity"])) {
            error(markOf(c), ip,
                  "this client has no 'identity'; give the certificate subject CN or a SAN, like 'lab-system'.");
          }
          const YAML::Node f = c["sending_facilities"];
          std::string fp = ip + ".sending_facilities";
          if (!present(f) || f.IsNull()) {
            error(present(f) ? markOf(f) : markOf(c), fp,
                  "list the sending facilities (MSH-4) this client may send for, like [LAB], or [\"*\"] for any.");
          } else if (f.IsScalar()) {
            if (auto v = string(f, fp)) client.sending_facilities.push_back(*v);
          } else if (!f.IsSequence()) {
            error(markOf(f), fp, "expected a list of sending facilities, like [LAB, RAD].");
          } else {
            for (std::size_t k = 0; k < f.size(); ++k) {
              if (auto v = string(f[k], fp + "[" + std::to_string(k) + "]")) {
                if (v->empty()) error(markOf(f[k]), fp + "[" + std::to_string(k) + "]", "a sending facility must not be empty.");
                else client.sending_facilities.push_back(*v);
              }
            }
            if (f.size() == 0)
              error(markOf(f), fp, "the list is empty, so this client could send nothing; list facilities or use [\"*\"].");
          }
          l.allowed_clients.push_back(std::move(client));
        }
      }
    }

    const YAML::Node limits = node["limits"];
    std::string lp = path + ".limits";
    if (present(limits) && requireMap(limits, lp)) {
      checkKeys(limits, lp, {"max_frame_bytes", "max_connections", "idle_timeout", "read_timeout"});
      if (auto v = size(limits["max_frame_bytes"], lp + ".max_frame_bytes", 1ULL << 10, 256ULL << 20,
                        "max_frame_bytes must be between 1KiB and 256MiB.")) {
        l.limits.max_frame_bytes = *v;
      }
      l.limits.max_connections = integer(limits["max_connections"], lp + ".max_connections", l.limits.max_connections,
                                         1, 1'000'000, "max_connections must be between 1 and 1000000.");
      using std::chrono::duration_cast;
      using std::chrono::milliseconds;
      if (auto d = duration(limits["idle_timeout"], lp + ".idle_timeout", std::chrono::seconds(1), std::chrono::hours(24),
                            "idle_timeout must be between 1s and 24h.")) {
        l.limits.idle_timeout = duration_cast<milliseconds>(*d);
      }
      if (auto d = duration(limits["read_timeout"], lp + ".read_timeout", std::chrono::milliseconds(100),
                            std::chrono::hours(1), "read_timeout must be between 100ms and 1h.")) {
        l.limits.read_timeout = duration_cast<milliseconds>(*d);
      }
    }

    const YAML::Node ack = node["ack"];
    std::string ap = path + ".ack";
    if (l.kind == ListenerKind::kHttp && present(ack)) {
      error(markOf(ack), ap, "'ack' applies to mllp listeners only; remove it from this http listener.");
    } else if (present(ack) && requireMap(ack, ap)) {
      checkKeys(ack, ap, {"mode", "mllp_commit_acks"});
      l.ack.policy = enumeration<AckPolicy>(ack["mode"], ap + ".mode", AckPolicy::kAuto,
                                            {{"auto", AckPolicy::kAuto},
                                             {"original", AckPolicy::kOriginal},
                                             {"enhanced", AckPolicy::kEnhanced}});
      l.ack.mllp_commit_acks = boolean(ack["mllp_commit_acks"], ap + ".mllp_commit_acks", false);
    }
    httpSection(node, path, l);
    return l;
  }

  // The `http:` section: only on `kind: http` listeners.
  void httpSection(const YAML::Node& node, const std::string& path, ListenerConfig& l) {
    const YAML::Node http = node["http"];
    const std::string hp = path + ".http";
    if (l.kind != ListenerKind::kHttp) {
      if (present(http)) error(markOf(http), hp, "'http' applies to listeners with 'kind: http' only.");
      return;
    }
    if (present(http) && requireMap(http, hp)) {
      checkKeys(http, hp, {"token_file", "max_body_bytes", "request_timeout"});
      if (auto t = string(http["token_file"], hp + ".token_file")) {
        if (t->empty()) {
          error(markOf(http["token_file"]), hp + ".token_file", "the token file path must not be empty.");
        } else {
          l.http.token_file = resolve(*t);
          std::error_code ec;
          if (options_.check_files && !fs::is_regular_file(l.http.token_file, ec)) {
            error(markOf(http["token_file"]), hp + ".token_file",
                  "the token file " + l.http.token_file.string() +
                      " does not exist. Write one line '<client> <token>' per client; `courier serve` writes a "
                      "development token on first run when the file is <data-dir>/dev-token.");
          }
        }
      }
      if (auto v = size(http["max_body_bytes"], hp + ".max_body_bytes", 1ULL << 10, 256ULL << 20,
                        "max_body_bytes must be between 1KiB and 256MiB.")) {
        l.http.max_body_bytes = *v;
      }
      if (auto d = duration(http["request_timeout"], hp + ".request_timeout", std::chrono::milliseconds(100),
                            std::chrono::hours(1), "request_timeout must be between 100ms and 1h.")) {
        l.http.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
      }
    }
    if (!l.tls.enabled) {
      error(present(node["tls"]) ? markOf(node["tls"]) : markOf(node), path + ".tls.enabled",
            "http listeners need TLS: bearer tokens and patient data must not travel in clear.");
    }
    const bool certs = l.tls.enabled && l.tls.client_certs != ClientCertMode::kNone;
    if (l.http.token_file.empty() && !certs) {
      error(markOf(node), path,
            "an http listener must authenticate its clients: name a token file (http.token_file) or ask for "
            "client certificates (tls.client_certs: optional or required).");
    }
  }

  // ---- pipeline, destinations, routes -----------------------------------------------

  PipelineConfig pipeline(const YAML::Node& node, const std::string& path, const Config& config) {
    PipelineConfig p;
    if (!present(node) || !requireMap(node, path)) return p;
    checkKeys(node, path, {"enabled", "workers", "batch", "application_acks"});
    p.enabled = boolean(node["enabled"], path + ".enabled", p.enabled);
    p.workers = integer(node["workers"], path + ".workers", p.workers, 0, 256,
                        "the number of pipeline workers must be between 0 (one per core) and 256.");
    p.batch = integer(node["batch"], path + ".batch", p.batch, 1, 100000,
                      "batch must be between 1 and 100000 messages per transaction.");
    const YAML::Node acks = node["application_acks"];
    if (!present(acks) || acks.IsNull()) return p;
    const std::string ap = path + ".application_acks";
    if (!acks.IsSequence()) {
      error(markOf(acks), ap, "expected a list, each like '- { facility: LAB, destination: lab-acks }'.");
      return p;
    }
    for (std::size_t i = 0; i < acks.size(); ++i) {
      const YAML::Node item = acks[i];
      const std::string at = ap + "[" + std::to_string(i) + "]";
      if (!requireMap(item, at)) continue;
      checkKeys(item, at, {"facility", "application", "destination"});
      ApplicationAckConfig a;
      if (auto v = string(item["facility"], at + ".facility")) a.facility = *v;
      if (auto v = string(item["application"], at + ".application")) a.application = *v;
      auto dest = string(item["destination"], at + ".destination");
      if (!dest) {
        if (!present(item["destination"])) {
          error(markOf(item), at,
                "this entry has no 'destination'; name the hl7v2 destination (the sender's listener) the "
                "acknowledgements go to.");
        }
        continue;
      }
      const DestinationConfig* d = config.findDestination(*dest);
      if (d == nullptr) {
        std::vector<std::string_view> known;
        for (const auto& k : config.destinations) known.push_back(k.name);
        std::string msg = "no destination is named '" + *dest + "'";
        if (auto best = closest(*dest, known); !best.empty()) msg += "; did you mean '" + std::string(best) + "'?";
        else msg += "; define it under 'destinations:' first.";
        error(markOf(item["destination"]), at + ".destination", msg);
        continue;
      }
      if (d->format != PayloadFormat::kHl7v2) {
        error(markOf(item["destination"]), at + ".destination",
              "the destination '" + *dest + "' sends another format; acknowledgements are HL7 v2, so it needs "
              "'format: hl7v2'.");
        continue;
      }
      a.destination = *dest;
      p.application_acks.push_back(std::move(a));
    }
    return p;
  }

  SubscriptionsConfig subscriptions(const YAML::Node& node, const std::string& path) {
    SubscriptionsConfig c;
    if (!present(node) || !requireMap(node, path)) return c;
    checkKeys(node, path, {"ca_files", "retry", "heartbeat_check"});
    for (const auto& item : stringList(node["ca_files"], path + ".ca_files", "[certs/ca.crt]")) {
      std::size_t n = errors_.size();
      fs::path p = resolve(item.value);
      if (options_.check_files) checkReadable(p, item.mark, item.path, "CA file");
      if (errors_.size() == n) c.ca_files.push_back(p);
    }
    retry(node["retry"], path + ".retry", c.retry);
    if (auto v = duration(node["heartbeat_check"], path + ".heartbeat_check", std::chrono::milliseconds(10),
                          std::chrono::hours(1), "heartbeat_check must be between 10ms and 1h.")) {
      c.heartbeat_check = std::chrono::duration_cast<std::chrono::milliseconds>(*v);
    }
    return c;
  }

  RecordConfig record(const YAML::Node& node, const std::string& path) {
    RecordConfig c;
    if (!present(node) || !requireMap(node, path)) return c;
    checkKeys(node, path, {"site_maps"});
    const YAML::Node list = node["site_maps"];
    if (!present(list) || list.IsNull()) return c;
    if (!list.IsSequence()) {
      error(markOf(list), path + ".site_maps",
            "expected a list of site maps, each like '- { facility: NORTHSIDE, file: mappings/sites/northside.csv }'.");
      return c;
    }
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YAML::Node item = list[i];
      std::string at = path + ".site_maps[" + std::to_string(i) + "]";
      if (!requireMap(item, at)) continue;
      checkKeys(item, at, {"facility", "application", "file"});
      SiteMapConfig m;
      if (auto v = string(item["facility"], at + ".facility")) m.facility = *v;
      if (auto v = string(item["application"], at + ".application")) m.application = *v;
      if (!present(item["file"])) {
        error(markOf(item), at, "this site map has no 'file'; name its CSV file, like mappings/sites/northside.csv.");
        continue;
      }
      std::size_t n = errors_.size();
      m.file = file(item["file"], at + ".file", "", "site map", false);
      if (errors_.size() == n) c.site_maps.push_back(std::move(m));
    }
    return c;
  }

  // A name for a destination or route: letters, digits, '-', '_', '.'. Reports a
  // missing or malformed name; returns what was written (possibly empty).
  std::string itemName(const YAML::Node& node, const std::string& path, const char* what, const char* example) {
    if (auto n = string(node["name"], path + ".name")) {
      bool ok = !n->empty();
      for (char c : *n) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') ok = false;
      }
      if (!ok) {
        error(markOf(node["name"]), path + ".name",
              std::string("a ") + what + " name uses letters, digits, '-', '_' and '.', like '" + example + "'.");
      }
      return *n;
    }
    if (!present(node["name"])) {
      error(markOf(node), path,
            std::string("this ") + what + " has no 'name'; give each " + what + " a unique name, like '" + example +
                "'.");
    }
    return {};
  }

  // The position of `key` itself inside `map` (for "this key does not apply here").
  static YAML::Mark keyMark(const YAML::Node& map, std::string_view key) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->first.Mark();
    }
    return markOf(map);
  }

  struct ListItem {
    std::string value;
    YAML::Mark mark;
    std::string path;
  };

  // One value or a list of values (`x` is read as `[x]`); empty values are errors.
  // `example` completes "expected a list of values, like ...".
  std::vector<ListItem> stringList(const YAML::Node& node, const std::string& path, const std::string& example) {
    std::vector<ListItem> out;
    if (!present(node)) return out;
    if (node.IsNull()) {
      error(markOf(node), path, "this key has no value; write a list like " + example + " or remove the key.");
      return out;
    }
    if (node.IsScalar()) {
      if (auto v = string(node, path)) {
        if (v->empty()) error(markOf(node), path, "the value must not be empty.");
        else out.push_back({*v, markOf(node), path});
      }
      return out;
    }
    if (!node.IsSequence()) {
      error(markOf(node), path, "expected a list of values, like " + example + ", but found a mapping.");
      return out;
    }
    if (node.size() == 0) {
      error(markOf(node), path, "the list is empty, so nothing could match; list values like " + example +
                                    " or remove the key.");
    }
    for (std::size_t i = 0; i < node.size(); ++i) {
      std::string ip = path + "[" + std::to_string(i) + "]";
      if (auto v = string(node[i], ip)) {
        if (v->empty()) error(markOf(node[i]), ip, "the value must not be empty.");
        else out.push_back({*v, markOf(node[i]), ip});
      }
    }
    return out;
  }

  static std::vector<std::string> values(const std::vector<ListItem>& items) {
    std::vector<std::string> out;
    out.reserve(items.size());
    for (const auto& i : items) out.push_back(i.value);
    return out;
  }

  // The closest of `known` to `name` (for "did you mean"), or empty.
  static std::string_view closest(std::string_view name, const std::vector<std::string_view>& known) {
    std::string_view best;
    std::size_t best_d = std::max<std::size_t>(3, name.size() / 3 + 1);
    for (auto k : known) {
      std::size_t d = editDistance(name, k);
      if (d < best_d) {
        best_d = d;
        best = k;
      }
    }
    return best;
  }

  static std::string_view formatAllowedKinds(PayloadFormat f) {
    switch (f) {
      case PayloadFormat::kHl7v2: return "mllp or file";
      case PayloadFormat::kFhirBundle: return "https or file";
      case PayloadFormat::kFhirClaim: return "https or file";
      case PayloadFormat::kX12_837P: return "file or https";
      case PayloadFormat::kNdjson: return "file";
    }
    return "";
  }

  static bool formatFits(PayloadFormat f, DestinationKind k) {
    switch (f) {
      case PayloadFormat::kHl7v2: return k == DestinationKind::kMllp || k == DestinationKind::kFile;
      case PayloadFormat::kFhirBundle:
      case PayloadFormat::kFhirClaim:
      case PayloadFormat::kX12_837P: return k == DestinationKind::kHttps || k == DestinationKind::kFile;
      case PayloadFormat::kNdjson: return k == DestinationKind::kFile;
    }
    return false;
  }

  static bool isClaimFormat(PayloadFormat f) {
    return f == PayloadFormat::kFhirClaim || f == PayloadFormat::kX12_837P;
  }

  void loadDestinations(const YAML::Node& node, std::vector<DestinationConfig>& out) {
    if (!present(node) || node.IsNull()) return;
    if (!node.IsSequence()) {
      error(markOf(node), "destinations", "expected a list of destinations, each starting with '- name: ...'.");
      return;
    }
    std::map<std::string, std::pair<std::size_t, int>> names;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      std::string path = "destinations[" + std::to_string(i) + "]";
      if (!requireMap(item, path)) continue;
      DestinationConfig d = destination(item, path);
      if (!d.name.empty()) {
        auto [it, inserted] = names.emplace(d.name, std::make_pair(i, markOf(item).line + 1));
        if (!inserted) {
          error(markOf(item["name"]), path + ".name",
                "the destination name '" + d.name + "' is already used by destinations[" +
                    std::to_string(it->second.first) + "] (line " + std::to_string(it->second.second) +
                    "); names must be unique, because each names its own delivery queue.");
        }
      }
      out.push_back(std::move(d));
    }
  }

  DestinationConfig destination(const YAML::Node& node, const std::string& path) {
    DestinationConfig d;
    checkKeys(node, path,
              {"name", "kind", "format", "host", "port", "on_ae", "on_ar", "url", "method", "headers", "token_file",
               "directory", "one_file_per_message", "tls", "connect_timeout", "response_timeout", "keepalive_idle",
               "retry", "claim"});
    d.name = itemName(node, path, "destination", "insurer-fhir");

    // The kind decides everything else; without it only the name is checked.
    if (!present(node["kind"])) {
      error(markOf(node), path, "this destination has no 'kind'; say how it is reached: mllp, https or file.");
      return d;
    }
    std::size_t before = errors_.size();
    d.kind = enumeration<DestinationKind>(node["kind"], path + ".kind", DestinationKind::kHttps,
                                          {{"mllp", DestinationKind::kMllp},
                                           {"https", DestinationKind::kHttps},
                                           {"file", DestinationKind::kFile}});
    if (errors_.size() != before) return d;
    const std::string kind_name(destinationKindName(d.kind));

    switch (d.kind) {
      case DestinationKind::kMllp: d.format = PayloadFormat::kHl7v2; break;
      case DestinationKind::kHttps: d.format = PayloadFormat::kFhirBundle; break;
      case DestinationKind::kFile: d.format = PayloadFormat::kNdjson; break;
    }
    before = errors_.size();
    d.format = enumeration<PayloadFormat>(node["format"], path + ".format", d.format,
                                          {{"hl7v2", PayloadFormat::kHl7v2},
                                           {"fhir-bundle", PayloadFormat::kFhirBundle},
                                           {"fhir-claim", PayloadFormat::kFhirClaim},
                                           {"x12-837p", PayloadFormat::kX12_837P},
                                           {"ndjson", PayloadFormat::kNdjson}});
    if (errors_.size() == before && !formatFits(d.format, d.kind)) {
      error(markOf(node["format"]), path + ".format",
            std::string(payloadFormatName(d.format)) + " cannot be sent to a " + kind_name + " destination; it goes to " +
                std::string(formatAllowedKinds(d.format)) + " destinations.");
    }

    // Keys that belong to other kinds are mistakes, not silently ignored settings.
    struct Applies {
      std::string_view key;
      bool mllp, https, file;
    };
    static constexpr Applies kApplies[] = {
        {"host", true, false, false},           {"port", true, false, false},
        {"on_ae", true, false, false},          {"on_ar", true, false, false},
        {"url", false, true, false},            {"method", false, true, false},
        {"headers", false, true, false},        {"token_file", false, true, false},
        {"directory", false, false, true},      {"one_file_per_message", false, false, true},
        {"tls", true, true, false},             {"connect_timeout", true, true, false},
        {"response_timeout", true, true, false}, {"keepalive_idle", true, true, false},
    };
    auto applies = [&](std::string_view key) {
      for (const auto& a : kApplies) {
        if (a.key != key) continue;
        bool ok = d.kind == DestinationKind::kMllp ? a.mllp : d.kind == DestinationKind::kHttps ? a.https : a.file;
        if (ok) return true;
        if (present(node[std::string(key)])) {
          std::string kinds;
          if (a.mllp) kinds = "mllp";
          if (a.https) kinds += kinds.empty() ? "https" : " and https";
          if (a.file) kinds += kinds.empty() ? "file" : " and file";
          error(keyMark(node, key), path + "." + std::string(key),
                "'" + std::string(key) + "' applies to " + kinds + " destinations only; this one is " + kind_name +
                    ".");
        }
        return false;
      }
      return true;
    };

    section_mark_ = markOf(node);
    if (d.kind == DestinationKind::kMllp) mllpDestination(node, path, d);
    if (d.kind == DestinationKind::kHttps) httpsDestination(node, path, d);
    if (d.kind == DestinationKind::kFile) fileDestination(node, path, d);
    for (const auto& a : kApplies) applies(a.key);  // reports the keys of other kinds

    if (d.kind != DestinationKind::kFile) {
      clientTls(node["tls"], path + ".tls", d);
      using std::chrono::duration_cast;
      using std::chrono::milliseconds;
      if (auto v = duration(node["connect_timeout"], path + ".connect_timeout", std::chrono::milliseconds(100),
                            std::chrono::minutes(5), "connect_timeout must be between 100ms and 5m.")) {
        d.connect_timeout = duration_cast<milliseconds>(*v);
      }
      if (auto v = duration(node["response_timeout"], path + ".response_timeout", std::chrono::milliseconds(100),
                            std::chrono::hours(1), "response_timeout must be between 100ms and 1h.")) {
        d.response_timeout = duration_cast<milliseconds>(*v);
      }
      if (auto v = duration(node["keepalive_idle"], path + ".keepalive_idle", std::chrono::microseconds(0),
                            std::chrono::hours(24),
                            "keepalive_idle must be between 0 (close after each delivery) and 24h.")) {
        d.keepalive_idle = duration_cast<milliseconds>(*v);
      }
    }
    retry(node["retry"], path + ".retry", d.retry);

    const YAML::Node claim = node["claim"];
    if (isClaimFormat(d.format)) {
      claimParties(node, path, d);
    } else if (present(claim)) {
      error(keyMark(node, "claim"), path + ".claim",
            "'claim' applies to destinations with format fhir-claim or x12-837p only; this one sends " +
                std::string(payloadFormatName(d.format)) + ".");
    }
    return d;
  }

  void mllpDestination(const YAML::Node& node, const std::string& path, DestinationConfig& d) {
    if (auto h = string(node["host"], path + ".host")) {
      bool ok = !h->empty();
      for (char c : *h) {
        if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == ':') ok = false;
      }
      // An IPv6 address is written without brackets; it has ':'.
      unsigned char buf[16];
      if (::inet_pton(AF_INET6, h->c_str(), buf) == 1) ok = true;
      if (!ok) {
        error(markOf(node["host"]), path + ".host",
              "'" + *h + "' is not a host name or IP address; write only the host, like registry.example.org, and "
                         "the port under 'port'.");
      }
      d.host = *h;
    } else if (!present(node["host"])) {
      error(markOf(node), path, "an mllp destination needs a 'host' (name or IP address of the receiver).");
    }
    if (present(node["port"])) {
      d.port = static_cast<std::uint16_t>(
          integer(node["port"], path + ".port", 0, 1, 65535, "the port must be between 1 and 65535."));
    } else {
      error(markOf(node), path, "an mllp destination needs a 'port' (the receiver's MLLP port, often 2575).");
    }
    std::initializer_list<EnumName<NakAction>> actions = {{"retry", NakAction::kRetry},
                                                           {"dead-letter", NakAction::kDeadLetter}};
    d.on_ae = enumeration<NakAction>(node["on_ae"], path + ".on_ae", d.on_ae, actions);
    d.on_ar = enumeration<NakAction>(node["on_ar"], path + ".on_ar", d.on_ar, actions);
  }

  void httpsDestination(const YAML::Node& node, const std::string& path, DestinationConfig& d) {
    if (auto u = string(node["url"], path + ".url")) {
      constexpr std::string_view kScheme = "https://";
      std::string_view rest = std::string_view(*u).substr(std::min(u->size(), kScheme.size()));
      std::string lower = *u;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      if (lower.rfind("http://", 0) == 0) {
        error(markOf(node["url"]), path + ".url",
              "the url must start with https://; plain http would send patient data and the token unencrypted.");
      } else if (lower.rfind(kScheme, 0) != 0) {
        error(markOf(node["url"]), path + ".url",
              "the url must start with https://, like https://claims.example.com/fhir; it is '" + *u + "'.");
      } else if (rest.empty() || rest[0] == '/' || rest[0] == ':' ||
                 rest.find_first_of(" \t") != std::string_view::npos) {
        error(markOf(node["url"]), path + ".url",
              "the url has no host after https://; write it like https://claims.example.com/fhir.");
      }
      d.url = *u;
    } else if (!present(node["url"])) {
      error(markOf(node), path, "an https destination needs a 'url', like https://claims.example.com/fhir.");
    }
    if (auto m = string(node["method"], path + ".method")) {
      if (*m == "POST" || *m == "PUT") {
        d.method = *m;
      } else {
        error(markOf(node["method"]), path + ".method",
              "the method is POST (to the url) or PUT (to url/{type}/{id}); it is '" + *m + "'.");
      }
    }
    const YAML::Node headers = node["headers"];
    const std::string hp = path + ".headers";
    if (present(headers) && requireMap(headers, hp)) {
      std::set<std::string> seen;
      for (auto it = headers.begin(); it != headers.end(); ++it) {
        const YAML::Node key = it->first;
        if (!key.IsScalar()) {
          error(markOf(key), hp, "header names must be plain words like X-Partner.");
          continue;
        }
        std::string name = key.Scalar();
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        bool token = !name.empty();
        for (char c : name) {
          if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') token = false;
        }
        const std::string where = hp + "." + name;
        if (!token) {
          error(markOf(key), where, "'" + name + "' is not a header name; use letters, digits and '-', like X-Partner.");
          continue;
        }
        if (!seen.insert(lower).second) {
          error(markOf(key), where, "the header '" + name + "' appears twice; keep one.");
          continue;
        }
        if (lower == "authorization") {
          error(markOf(key), where,
                "secrets do not belong in the config file; put the bearer token in a file and name it in "
                "'token_file'.");
          continue;
        }
        if (lower == "content-type" || lower == "content-length" || lower == "host") {
          error(markOf(key), where, "Courier sets the '" + name + "' header itself; remove it here.");
          continue;
        }
        if (auto v = string(it->second, where)) {
          if (v->find_first_of("\r\n") != std::string::npos) {
            error(markOf(it->second), where, "a header value must be one line.");
          } else {
            d.headers.emplace_back(name, *v);
          }
        }
      }
    }
    if (auto t = string(node["token_file"], path + ".token_file")) {
      if (t->empty()) {
        error(markOf(node["token_file"]), path + ".token_file", "the token file path must not be empty.");
      } else {
        d.token_file = file(node["token_file"], path + ".token_file", "", "token file", false);
      }
    }
  }

  void fileDestination(const YAML::Node& node, const std::string& path, DestinationConfig& d) {
    if (auto dir = string(node["directory"], path + ".directory")) {
      if (dir->empty()) error(markOf(node["directory"]), path + ".directory", "the directory must not be empty.");
      else d.directory = resolve(*dir);
    } else if (!present(node["directory"])) {
      error(markOf(node), path,
            "a file destination needs a 'directory' to write into (relative paths are inside the data directory).");
    }
    d.one_file_per_message = boolean(node["one_file_per_message"], path + ".one_file_per_message", true);
  }

  void clientTls(const YAML::Node& tls, const std::string& tp, DestinationConfig& d) {
    if (!present(tls) || !requireMap(tls, tp)) return;
    checkKeys(tls, tp, {"enabled", "ca_files", "use_system_cas", "cert_file", "key_file", "server_name"});
    section_mark_ = markOf(tls);
    std::size_t before = errors_.size();
    d.tls.enabled = boolean(tls["enabled"], tp + ".enabled", true);
    if (errors_.size() != before) return;
    if (!d.tls.enabled) {
      if (d.kind == DestinationKind::kHttps) {
        error(markOf(tls["enabled"]), tp + ".enabled",
              "https destinations always use TLS; remove 'enabled: false' (only mllp destinations may go without).");
        d.tls.enabled = true;
      }
      return;  // the other keys do not matter without TLS
    }
    d.tls.use_system_cas = boolean(tls["use_system_cas"], tp + ".use_system_cas", true);
    for (const auto& item : stringList(tls["ca_files"], tp + ".ca_files", "[certs/partner-ca.crt]")) {
      std::size_t n = errors_.size();
      fs::path p = resolve(item.value);
      if (options_.check_files) checkReadable(p, item.mark, item.path, "CA file");
      if (errors_.size() == n) d.tls.ca_files.push_back(p);
    }
    if (!d.tls.use_system_cas && d.tls.ca_files.empty() && present(tls["use_system_cas"])) {
      error(markOf(tls["use_system_cas"]), tp + ".use_system_cas",
            "with use_system_cas: false, list the CA that signs the receiver's certificate in 'ca_files'; "
            "otherwise no server could be trusted.");
    }
    const bool cert = present(tls["cert_file"]);
    const bool key = present(tls["key_file"]);
    if (cert) d.tls.cert_file = file(tls["cert_file"], tp + ".cert_file", "", "client certificate file", false);
    if (key) d.tls.key_file = file(tls["key_file"], tp + ".key_file", "", "private key file", false);
    if (cert != key) {
      error(markOf(cert ? tls["cert_file"] : tls["key_file"]), tp + (cert ? ".key_file" : ".cert_file"),
            "a client certificate needs both 'cert_file' and 'key_file'.");
    }
    if (auto s = string(tls["server_name"], tp + ".server_name")) d.tls.server_name = *s;
  }

  // Exists, is a regular file, is readable.
  void checkReadable(const fs::path& resolved, const YAML::Mark& mark, const std::string& path, const std::string& what) {
    std::error_code ec;
    if (!fs::exists(resolved, ec)) {
      error(mark, path, "the " + what + " " + resolved.string() +
                            " does not exist. Relative paths are inside the data directory (" + data_dir_.string() +
                            ").");
    } else if (!fs::is_regular_file(resolved, ec)) {
      error(mark, path, "the " + what + " " + resolved.string() + " is not a regular file.");
    } else if (::access(resolved.c_str(), R_OK) != 0) {
      error(mark, path, "the " + what + " " + resolved.string() + " exists but cannot be read by this user.");
    }
  }

  void retry(const YAML::Node& node, const std::string& path, RetryPolicy& r) {
    if (!present(node) || !requireMap(node, path)) return;
    checkKeys(node, path, {"initial_backoff", "max_backoff", "max_attempts", "max_age"});
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    bool initial_ok = false, max_ok = false;
    if (auto v = duration(node["initial_backoff"], path + ".initial_backoff", std::chrono::milliseconds(10),
                          std::chrono::hours(1), "initial_backoff must be between 10ms and 1h.")) {
      r.initial_backoff = duration_cast<milliseconds>(*v);
      initial_ok = true;
    }
    if (auto v = duration(node["max_backoff"], path + ".max_backoff", std::chrono::milliseconds(10),
                          std::chrono::hours(24), "max_backoff must be between 10ms and 24h.")) {
      r.max_backoff = duration_cast<milliseconds>(*v);
      max_ok = true;
    }
    if ((initial_ok || max_ok) && r.max_backoff < r.initial_backoff) {
      const YAML::Node at = max_ok ? node["max_backoff"] : node["initial_backoff"];
      error(markOf(at), path + (max_ok ? ".max_backoff" : ".initial_backoff"),
            "max_backoff must not be shorter than initial_backoff (the wait doubles from initial_backoff up to "
            "max_backoff).");
    }
    r.max_attempts = static_cast<std::uint32_t>(integer(node["max_attempts"], path + ".max_attempts", r.max_attempts,
                                                        0, 1'000'000,
                                                        "max_attempts must be between 0 (no limit) and 1000000."));
    if (auto v = duration(node["max_age"], path + ".max_age", std::chrono::microseconds(0), std::chrono::hours(24 * 366),
                          "max_age must be between 0 (no limit) and 8784h (a year).")) {
      r.max_age = duration_cast<milliseconds>(*v);
    }
  }

  // NPI check digit: Luhn over "80840" + the first nine digits (CMS NPI standard).
  static bool npiCheckDigitOk(const std::string& npi) {
    int sum = 24;  // the digits of the 80840 prefix, already doubled as Luhn requires
    for (int i = 8; i >= 0; --i) {
      int digit = npi[static_cast<std::size_t>(i)] - '0';
      if ((8 - i) % 2 == 0) {
        digit *= 2;
        if (digit > 9) digit -= 9;
      }
      sum += digit;
    }
    return (10 - sum % 10) % 10 == npi[9] - '0';
  }

  void claimParties(const YAML::Node& node, const std::string& path, DestinationConfig& d) {
    const YAML::Node claim = node["claim"];
    const std::string cp = path + ".claim";
    const std::string format(payloadFormatName(d.format));
    if (!present(claim)) {
      error(markOf(node), path,
            "a " + format + " destination needs a 'claim' section naming at least billing_npi, submitter_id and "
            "receiver_id (who bills, who sends, who receives).");
      return;
    }
    if (!requireMap(claim, cp)) return;
    checkKeys(claim, cp,
              {"submitter_id", "submitter_name", "submitter_contact", "submitter_phone", "receiver_id",
               "receiver_name", "billing_npi", "billing_name", "billing_tax_id", "billing_address", "billing_city",
               "billing_state", "billing_zip", "payer_id", "payer_name", "usage"});
    ClaimParties& c = d.claim;
    struct Field {
      const char* key;
      std::string* out;
    };
    const Field fields[] = {{"submitter_id", &c.submitter_id},       {"submitter_name", &c.submitter_name},
                            {"submitter_contact", &c.submitter_contact}, {"submitter_phone", &c.submitter_phone},
                            {"receiver_id", &c.receiver_id},         {"receiver_name", &c.receiver_name},
                            {"billing_npi", &c.billing_npi},         {"billing_name", &c.billing_name},
                            {"billing_tax_id", &c.billing_tax_id},   {"billing_address", &c.billing_address},
                            {"billing_city", &c.billing_city},       {"billing_state", &c.billing_state},
                            {"billing_zip", &c.billing_zip},         {"payer_id", &c.payer_id},
                            {"payer_name", &c.payer_name}};
    for (const auto& f : fields) {
      if (auto v = string(claim[f.key], cp + "." + f.key)) *f.out = *v;
    }
    auto required = [&](const char* key, const std::string& value, const char* what) {
      if (!present(claim[key])) {
        error(markOf(claim), cp, std::string("'") + key + "' is missing: " + what);
        return false;
      }
      if (value.empty()) {
        error(markOf(claim[key]), cp + "." + key, std::string("'") + key + "' must not be empty: " + what);
        return false;
      }
      return true;
    };
    required("submitter_id", c.submitter_id, "claims name their sender (ISA06, loop 1000A).");
    required("receiver_id", c.receiver_id, "claims name their receiver (ISA08, loop 1000B).");
    if (required("billing_npi", c.billing_npi, "claims name the billing provider's 10-digit NPI (loop 2010AA).")) {
      bool digits = c.billing_npi.size() == 10 &&
                    std::all_of(c.billing_npi.begin(), c.billing_npi.end(),
                                [](unsigned char ch) { return std::isdigit(ch) != 0; });
      if (!digits) {
        error(markOf(claim["billing_npi"]), cp + ".billing_npi",
              "an NPI is exactly 10 digits; '" + c.billing_npi + "' is not.");
      } else if (!npiCheckDigitOk(c.billing_npi)) {
        error(markOf(claim["billing_npi"]), cp + ".billing_npi",
              "the NPI " + c.billing_npi + " has a wrong check digit (the last digit); check it for a typo.");
      }
    }
    if (d.format == PayloadFormat::kX12_837P) {
      for (const char* key : {"submitter_id", "receiver_id"}) {
        std::string v = key[0] == 's' ? c.submitter_id : c.receiver_id;
        if (v.size() > 15) {
          error(markOf(claim[key]), cp + "." + key,
                std::string("an X12 interchange id has at most 15 characters (ISA06/ISA08); this one has ") +
                    std::to_string(v.size()) + ".");
        }
      }
    }
    if (!c.billing_tax_id.empty()) {
      std::string digits;
      for (char ch : c.billing_tax_id) {
        if (ch != '-') digits += ch;
      }
      if (digits.size() != 9 || !std::all_of(digits.begin(), digits.end(),
                                             [](unsigned char ch) { return std::isdigit(ch) != 0; })) {
        error(markOf(claim["billing_tax_id"]), cp + ".billing_tax_id",
              "a tax id (EIN) is 9 digits, like 12-3456789.");
      }
    }
    if (auto u = string(claim["usage"], cp + ".usage")) {
      if (*u == "T" || *u == "P") {
        c.usage = (*u)[0];
      } else {
        error(markOf(claim["usage"]), cp + ".usage",
              "usage is T (test claims) or P (production); it is '" + *u + "'.");
      }
    }
  }

  // ---- routes ---------------------------------------------------------------------

  void loadRoutes(const YAML::Node& node, Config& config) {
    if (!present(node) || node.IsNull()) return;
    if (!node.IsSequence()) {
      error(markOf(node), "routes", "expected a list of routes, each starting with '- name: ...'.");
      return;
    }
    std::map<std::string, std::pair<std::size_t, int>> names;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      std::string path = "routes[" + std::to_string(i) + "]";
      if (!requireMap(item, path)) continue;
      RouteConfig r = route(item, path, config);
      if (!r.name.empty()) {
        auto [it, inserted] = names.emplace(r.name, std::make_pair(i, markOf(item).line + 1));
        if (!inserted) {
          error(markOf(item["name"]), path + ".name",
                "the route name '" + r.name + "' is already used by routes[" + std::to_string(it->second.first) +
                    "] (line " + std::to_string(it->second.second) + "); names must be unique.");
        }
      }
      config.routes.push_back(std::move(r));
    }
  }

  RouteConfig route(const YAML::Node& node, const std::string& path, const Config& config) {
    RouteConfig r;
    checkKeys(node, path, {"name", "match", "destinations"});
    r.name = itemName(node, path, "route", "claims-to-insurer");
    const YAML::Node match = node["match"];
    if (present(match) && !match.IsNull() && requireMap(match, path + ".match")) {
      r.match = routeMatch(match, path + ".match", config);
    }
    const YAML::Node dests = node["destinations"];
    const std::string dp = path + ".destinations";
    if (!present(dests)) {
      error(markOf(node), path, "this route has no 'destinations'; list where matching messages go, like [registry].");
      return r;
    }
    std::vector<std::string_view> known;
    for (const auto& d : config.destinations) known.push_back(d.name);
    std::set<std::string> seen;
    for (const auto& item : stringList(dests, dp, "[insurer-fhir, claims-files]")) {
      if (!seen.insert(item.value).second) {
        error(item.mark, item.path, "the destination '" + item.value + "' is listed twice in this route; keep one.");
        continue;
      }
      if (config.findDestination(item.value) == nullptr) {
        std::string msg = "no destination is named '" + item.value + "'";
        if (auto best = closest(item.value, known); !best.empty()) {
          msg += "; did you mean '" + std::string(best) + "'?";
        } else if (known.empty()) {
          msg += "; define it under 'destinations:' first.";
        } else {
          msg += "; the destinations are " + quoteList(known, " and ") + ".";
        }
        error(item.mark, item.path, msg);
      }
      r.destinations.push_back(item.value);
    }
    return r;
  }

  // "ADT", "ADT^A01": a message type and optionally its trigger event.
  static bool validMessageType(std::string_view t) {
    auto code = [](std::string_view s) {
      return s.size() == 3 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
               return std::isupper(c) != 0 || std::isdigit(c) != 0;
             });
    };
    std::size_t caret = t.find('^');
    if (caret == std::string_view::npos) return code(t);
    return code(t.substr(0, caret)) && code(t.substr(caret + 1));
  }

  // The shape of an HL7 v2 path as engine/hl7v2/path.h reads it: SEG[n]-f[r][.c[.s]],
  // with `(n)` as well as `[n]`. Config does not depend on hl7v2, so it checks the shape
  // here; empty when fine, else what is wrong.
  static std::string hl7PathProblem(std::string_view p) {
    std::size_t pos = 0;
    auto number = [&](int& out) {
      std::size_t start = pos;
      out = 0;
      while (pos < p.size() && std::isdigit(static_cast<unsigned char>(p[pos])) && pos - start < 6) {
        out = out * 10 + (p[pos] - '0');
        ++pos;
      }
      return pos > start && out > 0;
    };
    auto index = [&]() {
      if (pos >= p.size() || (p[pos] != '[' && p[pos] != '(')) return true;
      char close = p[pos] == '[' ? ']' : ')';
      ++pos;
      int n = 0;
      if (!number(n) || pos >= p.size() || p[pos] != close) return false;
      ++pos;
      return true;
    };
    for (; pos < 3; ++pos) {
      if (pos >= p.size() || !std::isalnum(static_cast<unsigned char>(p[pos]))) {
        return "a path starts with a 3-character segment id";
      }
    }
    if (!index()) return "the segment repetition must be a number in brackets, like OBX[2]";
    if (pos >= p.size() || p[pos] != '-') return "the segment id is followed by '-' and a field number";
    ++pos;
    int n = 0;
    if (!number(n)) return "the field number must be 1 or more";
    if (!index()) return "the field repetition must be a number in brackets, like PID-3[2]";
    if (pos < p.size() && p[pos] == '.') {
      ++pos;
      if (!number(n)) return "the component number must be 1 or more";
      if (pos < p.size() && p[pos] == '.') {
        ++pos;
        if (!number(n)) return "the sub-component number must be 1 or more";
      }
    }
    if (pos != p.size()) return "unexpected '" + std::string(1, p[pos]) + "' at character " + std::to_string(pos + 1);
    return {};
  }

  // A code range bound of a system: dots ignored, case ignored. Empty when fine.
  static std::string codeProblem(const std::string& system, const std::string& code) {
    std::string dotless;
    for (char c : code) {
      if (c != '.') dotless += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    bool alnum = std::all_of(dotless.begin(), dotless.end(),
                             [](unsigned char c) { return std::isalnum(c) != 0; });
    if (dotless.empty() || !alnum) return "'" + code + "' is not a code";
    if (system == "icd10cm" && (!std::isalpha(static_cast<unsigned char>(dotless[0])) || dotless.size() > 7)) {
      return "'" + code + "' is not an ICD-10-CM code or category (a letter, then up to 6 characters, like C50 or E11.9)";
    }
    if (system == "icd10pcs" && dotless.size() > 7) return "'" + code + "' is longer than an ICD-10-PCS code (7 characters)";
    if (system == "hcpcs" && dotless.size() > 5) return "'" + code + "' is longer than a HCPCS code (5 characters, like J9035)";
    return {};
  }

  static std::string dotlessUpper(const std::string& code) {
    std::string out;
    for (char c : code) {
      if (c != '.') out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
  }

  void codeRanges(const YAML::Node& node, const std::string& path, std::vector<CodeRange>& out) {
    if (!present(node)) return;
    std::vector<std::pair<YAML::Node, std::string>> maps;
    if (node.IsMap()) {
      maps.emplace_back(node, path);
    } else if (node.IsSequence() && node.size() > 0) {
      for (std::size_t i = 0; i < node.size(); ++i) maps.emplace_back(node[i], path + "[" + std::to_string(i) + "]");
    } else {
      error(markOf(node), path, "expected a list of code ranges, like [{icd10cm: C00-D49}, {hcpcs: J0000-J9999}].");
      return;
    }
    for (auto& [m, mp] : maps) {
      if (!m.IsMap() || m.size() != 1) {
        error(markOf(m), mp,
              "each code range is one 'system: FROM-TO' pair, like {icd10cm: C00-D49}; systems are icd10cm, "
              "icd10pcs and hcpcs.");
        continue;
      }
      auto it = m.begin();
      if (!it->first.IsScalar()) {
        error(markOf(it->first), mp, "the code system must be icd10cm, icd10pcs or hcpcs.");
        continue;
      }
      std::string system = it->first.Scalar();
      if (system != "icd10cm" && system != "icd10pcs" && system != "hcpcs") {
        std::string msg = "'" + system + "' is not a code system Courier assigns; use icd10cm, icd10pcs or hcpcs";
        if (auto best = closest(system, {"icd10cm", "icd10pcs", "hcpcs"}); !best.empty())
          msg += " (did you mean '" + std::string(best) + "'?)";
        error(markOf(it->first), mp + "." + system, msg + ".");
        continue;
      }
      for (const auto& item : stringList(it->second, mp + "." + system, "C00-D49")) {
        std::string text = item.value;
        text.erase(std::remove_if(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c) != 0; }),
                   text.end());
        std::size_t dash = text.find('-');
        CodeRange r;
        r.system = system;
        r.from = text.substr(0, dash);
        r.to = dash == std::string::npos ? r.from : text.substr(dash + 1);
        if (dash != std::string::npos && text.find('-', dash + 1) != std::string::npos) {
          error(item.mark, item.path, "a code range is FROM-TO with one '-', like C00-D49; it is '" + item.value + "'.");
          continue;
        }
        std::string problem = codeProblem(system, r.from);
        if (problem.empty()) problem = codeProblem(system, r.to);
        if (!problem.empty()) {
          error(item.mark, item.path, problem + ".");
          continue;
        }
        std::string a = dotlessUpper(r.from), b = dotlessUpper(r.to);
        std::size_t n = std::min(a.size(), b.size());
        if (a.compare(0, n, b, 0, n) > 0) {
          error(item.mark, item.path,
                "the range " + item.value + " runs backwards; write the lower code first (" + r.to + "-" + r.from +
                    ").");
          continue;
        }
        out.push_back(std::move(r));
      }
    }
  }

  void fieldTests(const YAML::Node& node, const std::string& path, std::vector<FieldTest>& out) {
    if (!present(node)) return;
    if (!node.IsSequence() || node.size() == 0) {
      error(markOf(node), path, "expected a list of field tests, like [{field: PV1-2, equals: I}].");
      return;
    }
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node t = node[i];
      const std::string tp = path + "[" + std::to_string(i) + "]";
      if (!requireMap(t, tp)) continue;
      checkKeys(t, tp, {"field", "equals", "in", "not", "exists", "prefix"});
      FieldTest test;
      if (auto f = string(t["field"], tp + ".field")) {
        std::string problem = hl7PathProblem(*f);
        if (!problem.empty()) {
          error(markOf(t["field"]), tp + ".field",
                "'" + *f + "' is not an HL7 v2 path: " + problem + " (write it like PV1-2, PV1-3.1, PID-3[2].1 or OBX[2]-5).");
        }
        test.path = *f;
      } else if (!present(t["field"])) {
        error(markOf(t), tp, "this test has no 'field'; name an HL7 v2 field like PV1-2.");
      }
      int ops = 0;
      for (const char* op : {"equals", "in", "not", "exists", "prefix"}) ops += present(t[op]) ? 1 : 0;
      if (ops != 1) {
        error(markOf(t), tp,
              ops == 0 ? "say what to test: one of equals, in, not, exists or prefix, like {field: PV1-2, equals: I}."
                       : "use one of equals, in, not, exists or prefix per test; write several tests to combine them.");
        out.push_back(std::move(test));
        continue;
      }
      if (present(t["exists"])) {
        test.op = boolean(t["exists"], tp + ".exists", true) ? FieldOp::kExists : FieldOp::kMissing;
      } else {
        const char* key = present(t["equals"]) ? "equals" : present(t["in"]) ? "in" : present(t["not"]) ? "not" : "prefix";
        test.op = key[0] == 'n' ? FieldOp::kNotEquals : key[0] == 'p' ? FieldOp::kPrefix : FieldOp::kEquals;
        // `equals: ""` is legal in HL7 terms (""), but an empty value is more likely a mistake.
        test.values = values(stringList(t[key], tp + "." + key, "[ICU, CCU]"));
      }
      out.push_back(std::move(test));
    }
  }

  RouteMatch routeMatch(const YAML::Node& m, const std::string& path, const Config& config) {
    RouteMatch r;
    checkKeys(m, path,
              {"message_types", "sending_applications", "sending_facilities", "listeners", "patient_classes",
               "hospital_services", "specialties", "has_diagnoses", "has_procedures", "has_charges", "codes", "coded",
               "fields"});
    for (const auto& t : stringList(m["message_types"], path + ".message_types", "[ADT^A01, DFT^P03]")) {
      if (!validMessageType(t.value)) {
        error(t.mark, t.path,
              "'" + t.value + "' is not a message type; write the type (MSH-9.1) and optionally the event, in capitals, "
                              "like ADT or ADT^A01.");
        continue;
      }
      r.message_types.push_back(t.value);
    }
    r.sending_applications = values(stringList(m["sending_applications"], path + ".sending_applications", "[EPIC]"));
    r.sending_facilities = values(stringList(m["sending_facilities"], path + ".sending_facilities", "[LAB]"));
    std::vector<std::string_view> known;
    for (const auto& l : config.listeners) known.push_back(l.name);
    for (const auto& l : stringList(m["listeners"], path + ".listeners", "[mllp-main]")) {
      if (config.findListener(l.value) == nullptr) {
        std::string msg = "no listener is named '" + l.value + "'";
        if (auto best = closest(l.value, known); !best.empty()) msg += "; did you mean '" + std::string(best) + "'?";
        else if (!known.empty()) msg += "; the listeners are " + quoteList(known, " and ") + ".";
        else msg += ".";
        error(l.mark, l.path, msg);
      }
      r.listeners.push_back(l.value);
    }
    r.patient_classes = values(stringList(m["patient_classes"], path + ".patient_classes", "[I, E]"));
    r.hospital_services = values(stringList(m["hospital_services"], path + ".hospital_services", "[CAR, ONC]"));
    for (const auto& s : stringList(m["specialties"], path + ".specialties", "[cardiology, oncology]")) {
      bool ok = std::all_of(s.value.begin(), s.value.end(),
                            [](unsigned char c) { return std::islower(c) != 0 || c == '-'; });
      if (!ok) {
        error(s.mark, s.path,
              "'" + s.value + "' is not a specialty name; they are lower-case words like cardiology, oncology or "
                              "infectious-disease (engine/routing/README.md lists them).");
        continue;
      }
      r.specialties.push_back(s.value);
    }
    for (auto [key, out] : {std::pair{"has_diagnoses", &r.has_diagnoses}, std::pair{"has_procedures", &r.has_procedures},
                            std::pair{"has_charges", &r.has_charges}}) {
      if (!present(m[key])) continue;
      std::size_t before = errors_.size();
      bool v = boolean(m[key], path + "." + key, true);
      if (errors_.size() == before) *out = v;
    }
    codeRanges(m["codes"], path + ".codes", r.codes);
    r.coded = enumeration<CoderOutcome>(m["coded"], path + ".coded", CoderOutcome::kAny,
                                        {{"any", CoderOutcome::kAny},
                                         {"billable", CoderOutcome::kAllBillable},
                                         {"review", CoderOutcome::kNeedsReview}});
    fieldTests(m["fields"], path + ".fields", r.fields);
    return r;
  }

  std::string file_;
  const EnvLookup& env_;
  const LoadOptions& options_;
  fs::path data_dir_;
  YAML::Mark section_mark_ = YAML::Mark::null_mark();
  bool port_valid_ = true;
  ConfigErrors errors_;
};

}  // namespace

Result<Config, ConfigErrors> parseConfig(std::string_view yaml_text, std::string_view file_name,
                                         const EnvLookup& env, const LoadOptions& options) {
  Loader loader{std::string(file_name), env, options};
  Config config;
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    config = loader.load(root);
  } catch (const YAML::Exception& e) {
    // Syntax errors: yaml-cpp stops at the first one, so this is the only error.
    std::string msg = e.msg;
    if (!msg.empty()) msg[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[0])));
    loader.error(e.mark, "", "the YAML is not well formed: " + msg +
                                 " (check indentation, colons and quotes near here).");
  } catch (const std::exception& e) {
    loader.error(YAML::Mark::null_mark(), "", std::string("could not read the configuration: ") + e.what());
  }
  if (!loader.errors().empty()) {
    ConfigErrors errors = std::move(loader.errors());
    std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    return Unexpected(std::move(errors));
  }
  config.source_file = std::filesystem::path(std::string(file_name));
  return config;
}

Result<Config, ConfigErrors> loadConfig(const std::filesystem::path& file, const EnvLookup& env,
                                        const LoadOptions& options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    ConfigError e;
    e.file = file.string();
    std::error_code ec;
    e.message = fs::exists(file, ec) ? "the config file cannot be read by this user."
                                     : "the config file does not exist.";
    return Unexpected(ConfigErrors{std::move(e)});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), file.string(), env, options);
}

}  // namespace courier::config
