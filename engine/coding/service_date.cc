#include "engine/coding/service_date.h"

namespace courier::coding {

namespace {

bool digits(std::string_view s, int& out) {
  out = 0;
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

int daysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

}  // namespace

Result<ServiceDate> parseServiceDate(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  ServiceDate d;
  bool ok = false;
  if (text.size() >= 10 && text[4] == '-' && text[7] == '-') {
    ok = digits(text.substr(0, 4), d.year) && digits(text.substr(5, 2), d.month) &&
         digits(text.substr(8, 2), d.day);
  } else if (text.size() >= 8) {
    ok = digits(text.substr(0, 4), d.year) && digits(text.substr(4, 2), d.month) &&
         digits(text.substr(6, 2), d.day);
  }
  if (!ok || d.year < 1900 || d.year > 2999 || d.month < 1 || d.month > 12 || d.day < 1 ||
      d.day > daysInMonth(d.year, d.month)) {
    return Unexpected(Error(ErrorCode::kInvalidArgument,
                            "date of service must be YYYY-MM-DD or YYYYMMDD", "date"));
  }
  return d;
}

int fiscalYear(const ServiceDate& date) { return date.month >= 10 ? date.year + 1 : date.year; }

}  // namespace courier::coding
