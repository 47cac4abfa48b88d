// Shared by the commands that read or change the store from outside `courier serve`.
#include "cli/store_access.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "engine/store/store_factory.h"

namespace courier::cli {

namespace fs = std::filesystem;

Result<config::StoreConfig> storeConfig(const StoreLocation& where) {
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
  return sc;
}

Result<std::unique_ptr<store::MessageStore>> openStore(const StoreLocation& where) {
  auto sc = storeConfig(where);
  if (!sc) return Unexpected(sc.error());
  auto opened = store::openMessageStoreForReading(*sc);
  if (!opened && opened.error().code == ErrorCode::kNotFound) {
    return Unexpected(Error(ErrorCode::kNotFound,
                            "no message store here; start `courier serve` first, or point --data-dir or "
                            "--config at the right place",
                            sc->sqlite_path.string()));
  }
  return opened;
}


Result<std::unique_ptr<store::WorkStore>> openWorkStore(const StoreLocation& where) {
  auto sc = storeConfig(where);
  if (!sc) return Unexpected(sc.error());
  if (sc->kind != config::StoreKind::kSqlite) {
    return Unexpected(Error(ErrorCode::kUnsupported, "outboxes and the worklist exist on the SQLite store only for now"));
  }
  if (!fs::exists(sc->sqlite_path)) {
    return Unexpected(Error(ErrorCode::kNotFound,
                            "no message store here; start `courier serve` first, or point --data-dir or "
                            "--config at the right place",
                            sc->sqlite_path.string()));
  }
  return store::openSqliteWorkStore(store::WorkStoreOptions{sc->sqlite_path});
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian), so that no time zone
// setting of the machine changes what a UTC timestamp means.
static std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
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

void addLocationOptions(CLI::App* cmd, StoreLocation& where) {
  cmd->add_option("--data-dir", where.data_dir,
                  "the data directory holding courier.db (default: $COURIER_DATA_DIR, else ./var)");
  cmd->add_option("--config", where.config_file, "read the store location from this config file");
}

}  // namespace courier::cli
