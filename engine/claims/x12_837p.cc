// CanonicalRecord + CodedRecord -> X12 005010X222A1 837P (see claims.h).
//
// Layout of one interchange:
//   ISA GS                                   one functional group (HC)
//     ST BHT 1000A(NM1*41 PER) 1000B(NM1*40) per input, ST02 = its control number
//       HL*1**20*1  2010AA NM1*85 N3 N4 REF*EI         billing provider
//       HL*2*1*22*0 SBR 2010BA NM1*IL N3 N4 DMG         subscriber = patient
//                   2010BB NM1*PR                       payer
//         2300 CLM HI  2400 (LX SV1 DTP*472) per line
//     SE
//   GE IEA
#include <algorithm>
#include <ctime>
#include <set>
#include <string>
#include <string_view>

#include "engine/claims/claim_model.h"
#include "engine/claims/claims.h"

namespace courier::claims {
namespace {

using detail::ClaimModel;

constexpr char kElement = '*';
constexpr char kComponent = ':';
constexpr char kRepetition = '^';
constexpr char kSegment = '~';
constexpr std::int64_t kMaxControl = 999'999'999;

// Free text in an element: delimiters and control characters become spaces, runs of
// spaces one space, no blanks at either end, at most `max` characters; uppercase, which
// every X12 receiver accepts (the basic character set has no lowercase letters); ids
// (upper = false) keep their case.
std::string text(std::string_view in, std::size_t max, bool upper = true) {
  std::string out;
  for (char ch : in) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool delim = ch == kElement || ch == kComponent || ch == kRepetition || ch == kSegment;
    if (c < 0x20 || c >= 0x7f || delim) ch = ' ';
    if (ch == ' ' && (out.empty() || out.back() == ' ')) continue;
    if (upper && ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    out += ch;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > max) out.resize(max);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Identifiers and codes: letters and digits only (NPI, tax id, phone, zip, dates).
std::string alnum(std::string_view in, std::size_t max) {
  std::string out;
  for (char c : in)
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
      out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  if (out.size() > max) out.resize(max);
  return out;
}

std::int64_t foldControl(std::int64_t n) { return (n - 1) % kMaxControl + 1; }

std::string padded(std::int64_t n, int width) {
  std::string s = std::to_string(n);
  if (static_cast<int>(s.size()) < width) s.insert(0, static_cast<std::size_t>(width) - s.size(), '0');
  return s;
}

// An ISA fixed-width element: left-justified, space-padded.
std::string fixed(std::string_view v, std::size_t width) {
  std::string s(v.substr(0, width));
  s.resize(width, ' ');
  return s;
}

// Appends segments, counting them for SE01.
class Segments {
 public:
  explicit Segments(std::string& out) : out_(out) {}

  // Trailing empty elements are dropped, as X12 requires.
  void add(std::initializer_list<std::string_view> elements) {
    std::size_t n = elements.size();
    const std::string_view* e = elements.begin();
    while (n > 1 && e[n - 1].empty()) --n;
    for (std::size_t i = 0; i < n; ++i) {
      if (i) out_ += kElement;
      out_ += e[i];
    }
    out_ += kSegment;
    out_ += '\n';
    ++count_;
  }
  void reset() { count_ = 0; }
  int count() const { return count_; }

 private:
  std::string& out_;
  int count_ = 0;
};

std::string sexCode(std::string_view v) {
  if (v == "M" || v == "F") return std::string(v);
  return "U";
}

void writeTransaction(Segments& seg, const ClaimInput& in, const ClaimModel& m, const config::ClaimParties& parties,
                      const std::string& date8, const std::string& time4) {
  const record::CanonicalRecord& rec = *in.record;
  std::string st02 = padded(foldControl(in.control_number), 4);
  seg.reset();
  seg.add({"ST", "837", st02, "005010X222A1"});
  seg.add({"BHT", "0019", "00", in.claim_id, date8, time4, "CH"});
  // 1000A submitter, 1000B receiver.
  seg.add({"NM1", "41", "2", text(parties.submitter_name, 60), "", "", "", "", "46", parties.submitter_id});
  std::string phone = alnum(parties.submitter_phone, 256);
  seg.add({"PER", "IC", text(parties.submitter_contact, 60), phone.empty() ? "" : "TE", phone});
  seg.add({"NM1", "40", "2", text(parties.receiver_name, 60), "", "", "", "", "46", parties.receiver_id});
  // 2000A / 2010AA billing provider.
  seg.add({"HL", "1", "", "20", "1"});
  seg.add({"NM1", "85", "2", text(parties.billing_name, 60), "", "", "", "", "XX", alnum(parties.billing_npi, 10)});
  seg.add({"N3", text(parties.billing_address, 55)});
  seg.add({"N4", text(parties.billing_city, 30), text(parties.billing_state, 2), alnum(parties.billing_zip, 15)});
  seg.add({"REF", "EI", alnum(parties.billing_tax_id, 50)});
  // 2000B subscriber (the patient: SBR02 18 self) and 2010BA / 2010BB.
  const record::Coverage* cov = rec.coverages.empty() ? nullptr : &rec.coverages[0];
  std::string group = cov ? text(cov->group_number.value, 50, false) : "";
  seg.add({"HL", "2", "1", "22", "0"});
  seg.add({"SBR", "P", "18", group, "", "", "", "", "", "CI"});
  const record::Patient& p = rec.patient;
  std::string family, first, middle;
  if (!p.names.empty()) {
    family = text(p.names[0].family.value, 60);
    if (p.names[0].given.size() > 0) first = text(p.names[0].given[0].value, 35);
    if (p.names[0].given.size() > 1) middle = text(p.names[0].given[1].value, 25);
  }
  std::string member = cov ? text(cov->member_id.value, 80, false) : "";
  seg.add({"NM1", "IL", "1", family, first, middle, "", "", member.empty() ? "" : "MI", member});
  if (!p.addresses.empty()) {
    const record::Address& a = p.addresses[0];
    std::string l1 = a.lines.size() > 0 ? text(a.lines[0].value, 55) : "";
    std::string l2 = a.lines.size() > 1 ? text(a.lines[1].value, 55) : "";
    if (!l1.empty()) seg.add({"N3", l1, l2});
    if (!a.city.empty()) seg.add({"N4", text(a.city.value, 30), text(a.state.value, 2), alnum(a.postal_code.value, 15)});
  }
  std::string birth = alnum(p.birth_date.value, 8);
  if (birth.size() == 8) seg.add({"DMG", "D8", birth, sexCode(p.sex.value)});
  std::string payer_id = cov && !cov->payer_id.empty() ? cov->payer_id.value.str() : parties.payer_id;
  std::string payer_name = cov && !cov->payer_name.empty() ? cov->payer_name.value.str() : parties.payer_name;
  seg.add({"NM1", "PR", "2", text(payer_name, 60), "", "", "", "", "PI", text(payer_id, 80, false)});
  // 2300 claim.
  std::string facility = m.place_of_service + kComponent + "B" + kComponent + "1";
  seg.add({"CLM", in.claim_id, detail::centsX12(m.total_cents), "", "", facility, "Y", "A", "Y", "Y"});
  std::string hi[12];
  for (std::size_t i = 0; i < m.diagnoses.size() && i < 12; ++i)
    hi[i] = std::string(i == 0 ? "ABK" : "ABF") + kComponent + alnum(m.diagnoses[i].code, 7);
  seg.add({"HI", hi[0], hi[1], hi[2], hi[3], hi[4], hi[5], hi[6], hi[7], hi[8], hi[9], hi[10], hi[11]});
  // 2400 lines.
  int lx = 0;
  for (const detail::ClaimLine& l : m.lines) {
    seg.add({"LX", std::to_string(++lx)});
    std::string procedure = std::string("HC") + kComponent + alnum(l.hcpcs, 48);
    for (const std::string& mod : l.modifiers) procedure += kComponent + alnum(mod, 2);
    std::string pointers;
    for (int ptr : l.diagnosis_pointers) {
      if (!pointers.empty()) pointers += kComponent;
      pointers += std::to_string(ptr);
    }
    seg.add({"SV1", procedure, detail::centsX12(l.charge_cents), "UN", detail::milliText(l.units_milli), "", "",
             pointers});
    seg.add({"DTP", "472", "D8", l.service_date});
  }
  std::string count = std::to_string(seg.count() + 1);
  seg.add({"SE", count, st02});
}

bool hasDelimiter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return c == kElement || c == kComponent || c == kRepetition || c == kSegment || static_cast<unsigned char>(c) < 0x20;
  });
}

}  // namespace

Result<std::string> toX12_837P(std::span<const ClaimInput> inputs, const config::ClaimParties& parties,
                               std::chrono::system_clock::time_point created) {
  if (inputs.empty()) return Unexpected(Error(ErrorCode::kInvalidArgument, "an 837P needs at least one claim"));
  struct Need {
    std::string_view value;
    std::string_view name;
    std::size_t max;
  };
  for (const Need& n : {Need{parties.submitter_id, "submitter_id", 15}, Need{parties.receiver_id, "receiver_id", 15},
                        Need{parties.billing_npi, "billing_npi", 10}}) {
    if (n.value.empty() || n.value.size() > n.max || hasDelimiter(n.value))
      return Unexpected(Error(ErrorCode::kInvalidArgument,
                              "the destination's " + std::string(n.name) + " is missing, too long (max " +
                                  std::to_string(n.max) + ") or holds an X12 delimiter",
                              "claim." + std::string(n.name)));
  }
  if (parties.usage != 'T' && parties.usage != 'P')
    return Unexpected(Error(ErrorCode::kInvalidArgument, "the destination's usage must be T or P", "claim.usage"));

  std::vector<ClaimModel> models;
  std::set<std::int64_t> controls;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const ClaimInput& in = inputs[i];
    // Which claim of the interchange an error is about; a lone claim needs no number.
    std::string which = inputs.size() == 1 ? std::string() : "claim " + std::to_string(i + 1) + ": ";
    if (in.claim_id.empty() || in.claim_id.size() > 38 || hasDelimiter(in.claim_id))
      return Unexpected(Error(ErrorCode::kInvalidArgument,
                              which + "the claim id must be 1 to 38 characters without X12 delimiters"));
    if (in.control_number <= 0)
      return Unexpected(Error(ErrorCode::kInvalidArgument, which + "the control number must be positive"));
    if (!controls.insert(foldControl(in.control_number)).second)
      return Unexpected(Error(ErrorCode::kInvalidArgument, which + "its control number repeats another claim's"));
    const record::Coverage* cov =
        in.record != nullptr && !in.record->coverages.empty() ? &in.record->coverages[0] : nullptr;
    if ((cov == nullptr || cov->payer_id.empty()) && parties.payer_id.empty())
      return Unexpected(Error(ErrorCode::kInvalidArgument,
                              which + "no payer id: the coverage has none (IN1-3) and the destination names none",
                              "claim.payer_id"));
    auto m = detail::buildClaimModel(in);
    if (!m) {
      Error e = std::move(m).error();
      e.message = which + e.message;
      return Unexpected(std::move(e));
    }
    models.push_back(std::move(*m));
  }

  std::time_t t = std::chrono::system_clock::to_time_t(created);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char date8[16], date6[16], time4[16];
  std::strftime(date8, sizeof date8, "%Y%m%d", &utc);
  std::strftime(date6, sizeof date6, "%y%m%d", &utc);
  std::strftime(time4, sizeof time4, "%H%M", &utc);

  std::int64_t interchange = foldControl(inputs[0].control_number);
  std::string isa13 = padded(interchange, 9);
  std::string gs06 = std::to_string(interchange);
  std::string out;
  out.reserve(2048 * inputs.size());
  Segments seg(out);
  std::string sub_id = fixed(parties.submitter_id, 15);
  std::string rcv_id = fixed(parties.receiver_id, 15);
  seg.add({"ISA", "00", fixed("", 10), "00", fixed("", 10), "ZZ", sub_id, "ZZ", rcv_id, date6, time4,
           std::string(1, kRepetition), "00501", isa13, "0", std::string(1, parties.usage),
           std::string(1, kComponent)});
  seg.add({"GS", "HC", parties.submitter_id, parties.receiver_id, date8, time4, gs06, "X", "005010X222A1"});
  for (std::size_t i = 0; i < inputs.size(); ++i) writeTransaction(seg, inputs[i], models[i], parties, date8, time4);
  seg.add({"GE", std::to_string(inputs.size()), gs06});
  seg.add({"IEA", "1", isa13});
  return out;
}

}  // namespace courier::claims
