#include "engine/routing/specialty_table.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace courier::routing {

// Generated from mappings/routing/specialties.csv (specialties_data.cc.in).
extern const std::string_view kBuiltInSpecialtiesCsv;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Error lineError(std::size_t line, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, what, "specialties.csv:" + std::to_string(line));
}

}  // namespace

Result<SpecialtyTable> SpecialtyTable::parse(std::string_view csv) {
  struct Row {
    bool service;
    std::string key;
    std::string specialty;
    std::size_t line;
  };
  std::vector<Row> rows;
  std::size_t line_no = 0;
  while (!csv.empty()) {
    std::size_t nl = csv.find('\n');
    std::string_view line = trim(csv.substr(0, nl));
    csv = nl == std::string_view::npos ? std::string_view() : csv.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    std::size_t c1 = line.find(',');
    std::size_t c2 = c1 == std::string_view::npos ? c1 : line.find(',', c1 + 1);
    if (c2 == std::string_view::npos || line.find(',', c2 + 1) != std::string_view::npos) {
      return Unexpected(lineError(line_no, "expected three columns: source,key,specialty"));
    }
    std::string_view source = trim(line.substr(0, c1));
    std::string_view key = trim(line.substr(c1 + 1, c2 - c1 - 1));
    std::string_view name = trim(line.substr(c2 + 1));
    if (source != "service" && source != "icd10cm") {
      return Unexpected(lineError(line_no, "the source must be 'service' or 'icd10cm'"));
    }
    bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
      return std::islower(c) != 0 || c == '-';
    });
    if (key.empty() || !name_ok) {
      return Unexpected(lineError(line_no, "needs a key and a lower-case specialty name like 'infectious-disease'"));
    }
    rows.push_back({source == "service", std::string(key), std::string(name), line_no});
  }

  SpecialtyTable t;
  for (const Row& r : rows) t.names_.push_back(r.specialty);
  std::sort(t.names_.begin(), t.names_.end());
  t.names_.erase(std::unique(t.names_.begin(), t.names_.end()), t.names_.end());
  if (t.names_.size() > kMaxSpecialties) {
    return Unexpected(Error(ErrorCode::kInvalidArgument, "more than 64 specialties", "specialties.csv"));
  }
  std::map<std::string, std::uint64_t> services;
  for (const Row& r : rows) {
    std::uint64_t bit = std::uint64_t{1} << *t.find(r.specialty);
    if (r.service) {
      auto [it, inserted] = services.emplace(upper(r.key), bit);
      if (!inserted && it->second != bit) {
        return Unexpected(lineError(r.line, "the service '" + r.key + "' is already mapped to another specialty"));
      }
      continue;
    }
    auto range = CodeRangeKey::parse(r.key);
    if (!range || !std::isalpha(static_cast<unsigned char>(range->from.text[0])) ||
        !std::isalpha(static_cast<unsigned char>(range->to.text[0])) || range->from.text[0] > range->to.text[0]) {
      return Unexpected(lineError(r.line, "'" + r.key + "' is not an ICD-10-CM range like C00-D49"));
    }
    auto idx = static_cast<std::uint16_t>(t.ranges_.size());
    t.ranges_.push_back({*range, bit});
    for (char c = range->from.text[0]; c <= range->to.text[0]; ++c) t.by_letter_[c - 'A'].push_back(idx);
  }
  t.services_.assign(services.begin(), services.end());
  return t;
}

const SpecialtyTable& SpecialtyTable::builtIn() {
  static const SpecialtyTable table = [] {
    auto parsed = parse(kBuiltInSpecialtiesCsv);
    if (!parsed) {
      std::fprintf(stderr, "courier: the built-in specialty table is broken: %s\n", parsed.error().toString().c_str());
      std::abort();
    }
    return std::move(*parsed);
  }();
  return table;
}

std::optional<int> SpecialtyTable::find(std::string_view name) const {
  auto it = std::lower_bound(names_.begin(), names_.end(), name);
  if (it == names_.end() || *it != name) return std::nullopt;
  return static_cast<int>(it - names_.begin());
}

std::vector<std::string> SpecialtyTable::namesOf(std::uint64_t mask) const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (mask & (std::uint64_t{1} << i)) out.push_back(names_[i]);
  }
  return out;
}

std::uint64_t SpecialtyTable::forService(std::string_view service) const {
  service = trim(service);
  if (service.empty() || service.size() > 32) return 0;
  char buf[32];
  for (std::size_t i = 0; i < service.size(); ++i) {
    buf[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(service[i])));
  }
  std::string_view key(buf, service.size());
  auto it = std::lower_bound(services_.begin(), services_.end(), key,
                             [](const auto& entry, std::string_view k) { return std::string_view(entry.first) < k; });
  if (it == services_.end() || it->first != key) return 0;
  return it->second;
}

std::uint64_t SpecialtyTable::forDiagnosis(const CodeKey& code) const {
  char first = code.text[0];
  if (code.size == 0 || first < 'A' || first > 'Z') return 0;
  for (std::uint16_t i : by_letter_[first - 'A']) {
    if (ranges_[i].range.contains(code)) return ranges_[i].bit;
  }
  return 0;
}

}  // namespace courier::routing
