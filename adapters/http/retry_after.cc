#include "adapters/http/retry_after.h"

#include <array>
#include <cctype>
#include <cstdint>

namespace courier::http {

namespace {

using namespace std::chrono;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Reads min_digits..max_digits decimal digits.
bool number(std::string_view& s, int min_digits, int max_digits, int& out) {
  int n = 0;
  int v = 0;
  while (n < max_digits && n < static_cast<int>(s.size()) && std::isdigit(static_cast<unsigned char>(s[n]))) {
    v = v * 10 + (s[n] - '0');
    ++n;
  }
  if (n < min_digits) return false;
  s.remove_prefix(n);
  out = v;
  return true;
}

bool literal(std::string_view& s, std::string_view lit) {
  if (s.substr(0, lit.size()) != lit) return false;
  s.remove_prefix(lit.size());
  return true;
}

bool readMonth(std::string_view& s, int& out) {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (s.substr(0, 3) == kMonths[i]) {
      s.remove_prefix(3);
      out = i + 1;
      return true;
    }
  }
  return false;
}

bool dayName(std::string_view& s, bool long_form) {
  static constexpr std::array<std::string_view, 7> kShort = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 7> kLong = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                            "Friday", "Saturday", "Sunday"};
  for (auto name : long_form ? kLong : kShort) {
    if (literal(s, name)) return true;
  }
  return false;
}

// "08:49:37"
bool timeOfDay(std::string_view& s, int& h, int& m, int& sec) {
  return number(s, 2, 2, h) && literal(s, ":") && number(s, 2, 2, m) && literal(s, ":") && number(s, 2, 2, sec) &&
         h < 24 && m < 60 && sec <= 60;
}

std::optional<system_clock::time_point> make(int y, int mo, int d, int h, int mi, int s) {
  std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                  std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  return sys_days(ymd) + hours(h) + minutes(mi) + seconds(s);
}

}  // namespace

std::optional<system_clock::time_point> parseHttpDate(std::string_view value) {
  std::string_view s = trim(value);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  {
    std::string_view t = s;
    if (dayName(t, false) && literal(t, ", ") && number(t, 2, 2, d) && literal(t, " ") && readMonth(t, mo) &&
        literal(t, " ") && number(t, 4, 4, y) && literal(t, " ") && timeOfDay(t, h, mi, sec) && t == " GMT") {
      return make(y, mo, d, h, mi, sec);
    }
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years within 50 years of now
  // (RFC 9110 says so); 1970-2069 is close enough for a retry hint.
  {
    std::string_view t = s;
    if (dayName(t, true) && literal(t, ", ") && number(t, 2, 2, d) && literal(t, "-") && readMonth(t, mo) &&
        literal(t, "-") && number(t, 2, 2, y) && literal(t, " ") && timeOfDay(t, h, mi, sec) && t == " GMT") {
      return make(y < 70 ? 2000 + y : 1900 + y, mo, d, h, mi, sec);
    }
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  {
    std::string_view t = s;
    if (dayName(t, false) && literal(t, " ") && readMonth(t, mo) && literal(t, " ")) {
      if (!t.empty() && t.front() == ' ') t.remove_prefix(1);
      if (number(t, 1, 2, d) && literal(t, " ") && timeOfDay(t, h, mi, sec) && literal(t, " ") &&
          number(t, 4, 4, y) && t.empty()) {
        return make(y, mo, d, h, mi, sec);
      }
    }
  }
  return std::nullopt;
}

std::optional<milliseconds> parseRetryAfter(std::string_view value, system_clock::time_point now) {
  std::string_view s = trim(value);
  if (s.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(s.front()))) {
    std::int64_t secs = 0;
    for (char c : s) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      if (secs < kMaxRetryAfter.count() / 1000) secs = secs * 10 + (c - '0');
    }
    return std::min<milliseconds>(seconds(secs), kMaxRetryAfter);
  }
  auto when = parseHttpDate(s);
  if (!when) return std::nullopt;
  if (*when <= now) return milliseconds(0);
  return std::min<milliseconds>(duration_cast<milliseconds>(*when - now), kMaxRetryAfter);
}

}  // namespace courier::http
