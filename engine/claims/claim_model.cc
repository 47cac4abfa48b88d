#include "engine/claims/claim_model.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string_view>

#include "engine/coding/service_date.h"
#include "engine/core/digits.h"

namespace courier::claims::detail {
namespace {

constexpr std::size_t kMaxDiagnoses = 12;  // 837P HI: 12 codes per claim
constexpr std::size_t kMaxPointers = 4;    // SV107: 4 pointers per line
constexpr std::size_t kMaxModifiers = 4;   // SV101-3..6
constexpr std::int64_t kMaxCents = 99'999'999'999'99;  // amounts far past any charge; keeps sums exact

// A non-negative decimal with at most `scale` significant fractional digits, as an
// integer in units of 10^-scale ("18.50", scale 2 -> 1850). Extra fractional zeros are
// accepted ("1.000" units); anything else (signs, exponents, spaces) is not.
std::optional<std::int64_t> parseScaled(std::string_view s, int scale) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::int64_t whole = 0;
  std::size_t i = 0;
  bool digits = false;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    whole = whole * 10 + (s[i] - '0');
    digits = true;
  }
  std::int64_t frac = 0;
  int frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (frac_digits < scale) {
        frac = frac * 10 + (s[i] - '0');
        ++frac_digits;
      } else if (s[i] != '0') {
        return std::nullopt;  // more precision than the unit allows
      }
      digits = true;
    }
  }
  if (!digits || i != s.size()) return std::nullopt;
  for (; frac_digits < scale; ++frac_digits) frac *= 10;
  std::int64_t unit = 1;
  for (int k = 0; k < scale; ++k) unit *= 10;
  return whole * unit + frac;
}

// The field number of a source path: "FT1[2]-12.1" -> 12.
int fieldOf(std::string_view source) {
  std::size_t dash = source.find('-');
  if (dash == std::string_view::npos) return 0;
  int n = 0;
  for (std::size_t i = dash + 1; i < source.size() && source[i] >= '0' && source[i] <= '9'; ++i)
    n = n * 10 + (source[i] - '0');
  return n;
}

std::string compact(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '.' || c == ' ') continue;
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

// Digits written out, not through snprintf (a claim has one date per line, and
// snprintf's format parsing was a visible part of building the claim model).
std::string yyyymmdd(const coding::ServiceDate& d) {
  char buf[8];
  putDigits(putDigits(putDigits(buf, d.year, 4), d.month, 2), d.day, 2);
  return std::string(buf, sizeof buf);
}

// One item of the coding result: coded, confirmed.
void checkItem(const coding::CodingResult& r, std::string_view what, std::size_t i,
               std::vector<std::string>& problems) {
  std::string name = std::string(what) + " " + std::to_string(i + 1);
  if (r.review) problems.push_back(name + " is waiting for review");
  else if (r.codes.empty()) problems.push_back(name + " has no code");
}

std::string joinProblems(const std::vector<std::string>& problems) {
  std::string out = "not claimable: ";
  for (std::size_t i = 0; i < problems.size(); ++i) {
    if (i) out += "; ";
    out += problems[i];
  }
  return out;
}

}  // namespace

Result<ClaimModel> buildClaimModel(const ClaimInput& input) {
  if (input.record == nullptr || input.coded == nullptr)
    return Unexpected(Error(ErrorCode::kInvalidArgument, "not claimable: the claim input has no record or coding result"));
  const record::CanonicalRecord& rec = *input.record;
  const coding::CodedRecord& coded = *input.coded;
  std::vector<std::string> problems;
  std::string location;
  auto problem = [&](std::string text, const std::string& where = {}) {
    if (location.empty()) location = where;
    problems.push_back(std::move(text));
  };

  if (!rec.has_patient) problem("the record has no patient", "PID");
  if (!coded.date_of_service) problem("the record has no date of service");
  if (coded.diagnoses.size() != rec.diagnoses.size() || coded.procedures.size() != rec.procedures.size() ||
      coded.charges.size() != rec.charges.size()) {
    problem("the coding result does not match the record (item counts differ)");
    return Unexpected(Error(ErrorCode::kInvalidArgument, joinProblems(problems), location));
  }

  // Same rule as CodedRecord::allBillable(), checked here item by item so that the error
  // can say which item holds the claim back.
  for (std::size_t i = 0; i < coded.diagnoses.size(); ++i) {
    std::size_t before = problems.size();
    checkItem(coded.diagnoses[i], "diagnosis", i, problems);
    if (problems.size() != before && location.empty()) location = rec.diagnoses[i].source_segment;
  }
  for (std::size_t i = 0; i < coded.procedures.size(); ++i) {
    std::size_t before = problems.size();
    checkItem(coded.procedures[i], "procedure", i, problems);
    if (problems.size() != before && location.empty()) location = rec.procedures[i].source_segment;
  }

  ClaimModel m;
  m.inpatient = rec.has_encounter && rec.encounter.patient_class.value == "I";
  const std::string& pclass = rec.encounter.patient_class.value;
  m.place_of_service = pclass == "I" ? "21" : pclass == "E" ? "23" : "11";
  if (coded.date_of_service) m.date_of_service = yyyymmdd(*coded.date_of_service);

  for (const coding::CodingResult& r : coded.diagnoses) {
    for (const coding::AssignedCode& c : r.codes) {
      if (c.system != coding::CodeSystem::kIcd10Cm) continue;
      bool seen = std::any_of(m.diagnoses.begin(), m.diagnoses.end(),
                              [&](const ClaimDiagnosis& d) { return compact(d.code) == compact(c.code); });
      if (!seen && m.diagnoses.size() < kMaxDiagnoses) m.diagnoses.push_back({c.code, c.display});
    }
  }
  if (m.diagnoses.empty()) problem("the record has no ICD-10-CM diagnosis code", "DG1");
  if (rec.charges.empty()) problem("the record has no charge line", "FT1");

  for (std::size_t i = 0; i < rec.charges.size(); ++i) {
    const record::Charge& ch = rec.charges[i];
    const coding::CodingResult& r = coded.charges[i];
    std::string name = "charge " + std::to_string(i + 1);
    std::size_t before = problems.size();
    const std::string& type = ch.transaction_type.value;
    if (!type.empty() && type != "CG")
      problems.push_back(name + " is a credit, payment or adjustment (FT1-6), which an original claim does not carry");
    const coding::AssignedCode* hcpcs = nullptr;
    for (const coding::AssignedCode& c : r.codes)
      if (c.system == coding::CodeSystem::kHcpcs) {
        hcpcs = &c;
        break;
      }
    if (r.review) problems.push_back(name + " is waiting for review");
    else if (hcpcs == nullptr) problems.push_back(name + " has no HCPCS code");
    std::optional<std::int64_t> units = ch.quantity.empty() ? std::optional<std::int64_t>(1000)
                                                            : parseScaled(ch.quantity.value, 3);
    if (!units || *units == 0) problems.push_back(name + " has no usable quantity (FT1-10)");
    std::optional<std::int64_t> amount = parseScaled(ch.amount.value, 2);
    if (!amount) problems.push_back(name + " has no usable amount (FT1-11 or FT1-12)");
    if (problems.size() != before) {
      if (location.empty()) location = ch.source_segment;
      continue;
    }

    ClaimLine line;
    line.hcpcs = compact(hcpcs->code);
    line.display = hcpcs->display;
    // The sender's modifiers (FT1-26) win; a chargemaster crosswalk's come otherwise.
    for (const record::Sourced& mod : ch.modifiers)
      if (line.modifiers.size() < kMaxModifiers && !mod.value.empty()) line.modifiers.push_back(compact(mod.value));
    if (line.modifiers.empty())
      for (const std::string& mod : hcpcs->modifiers)
        if (line.modifiers.size() < kMaxModifiers && !mod.empty()) line.modifiers.push_back(compact(mod));
    line.units_milli = *units;
    // FT1-11 is the line's extended amount; FT1-12 a unit amount, so the line charge is
    // units x unit price, rounded half up to the cent.
    __int128 cents = *amount;
    if (fieldOf(ch.amount.source.str()) == 12) cents = (cents * line.units_milli + 500) / 1000;
    if (cents > kMaxCents) {
      problems.push_back(name + " has no usable amount (FT1-11 or FT1-12)");
      if (location.empty()) location = ch.source_segment;
      continue;
    }
    line.charge_cents = static_cast<std::int64_t>(cents);
    auto date = coding::parseServiceDate(ch.transaction_date.value);
    line.service_date = date ? yyyymmdd(*date) : m.date_of_service;
    for (const record::Code& d : ch.diagnoses) {
      std::string want = compact(d.code.value);
      for (std::size_t k = 0; k < m.diagnoses.size(); ++k) {
        int ptr = static_cast<int>(k + 1);
        if (compact(m.diagnoses[k].code) == want && line.diagnosis_pointers.size() < kMaxPointers &&
            std::find(line.diagnosis_pointers.begin(), line.diagnosis_pointers.end(), ptr) ==
                line.diagnosis_pointers.end())
          line.diagnosis_pointers.push_back(ptr);
      }
    }
    if (line.diagnosis_pointers.empty())
      for (std::size_t k = 0; k < m.diagnoses.size() && k < kMaxPointers; ++k)
        line.diagnosis_pointers.push_back(static_cast<int>(k + 1));
    m.total_cents += line.charge_cents;
    m.lines.push_back(std::move(line));
  }

  if (!problems.empty()) return Unexpected(Error(ErrorCode::kInvalidArgument, joinProblems(problems), location));
  for (const ClaimLine& l : m.lines) {
    if (l.service_date.empty()) continue;
    if (m.first_service_date.empty() || l.service_date < m.first_service_date) m.first_service_date = l.service_date;
    if (m.last_service_date.empty() || l.service_date > m.last_service_date) m.last_service_date = l.service_date;
  }
  return m;
}

std::string centsFhir(std::int64_t cents) {
  std::string out = std::to_string(cents / 100) + ".";
  std::int64_t c = cents % 100;
  out += static_cast<char>('0' + c / 10);
  out += static_cast<char>('0' + c % 10);
  return out;
}

std::string centsX12(std::int64_t cents) {
  std::string out = centsFhir(cents);
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

std::string milliText(std::int64_t milli) {
  std::string out = std::to_string(milli / 1000);
  std::int64_t f = milli % 1000;
  if (f == 0) return out;
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(f));
  out += buf;
  while (out.back() == '0') out.pop_back();
  return out;
}

std::string fhirDate(const std::string& d) {
  if (d.size() != 8) return {};
  return d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2);
}

}  // namespace courier::claims::detail

namespace courier::claims {

Result<void> checkClaimable(const ClaimInput& input) {
  auto m = detail::buildClaimModel(input);
  if (!m) return Unexpected(std::move(m).error());
  return Ok();
}

}  // namespace courier::claims
