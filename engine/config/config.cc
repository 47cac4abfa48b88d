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
    checkKeys(root, "", {"data_dir", "log_level", "io_threads", "store", "listeners"});

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
  fs::path file(const YAML::Node& node, const std::string& path, const std::string& fallback,
                const std::string& what) {
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
      if (!exists) {
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
    checkKeys(node, path, {"kind", "path", "group_commit", "max_pending"});
    s.kind = enumeration<StoreKind>(node["kind"], path + ".kind", StoreKind::kSqlite,
                                    {{"sqlite", StoreKind::kSqlite}});
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
