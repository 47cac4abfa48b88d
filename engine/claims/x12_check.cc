#include "engine/claims/x12_check.h"

#include <array>
#include <map>
#include <optional>
#include <set>

namespace courier::claims {
namespace {

constexpr std::array<std::size_t, 17> kIsaWidths = {3, 2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

int toInt(std::string_view s) {
  int n = 0;
  for (char c : s) {
    if (n > 100'000'000) return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// X12 R (decimal) in cents; nullopt when not a plain non-negative decimal of at most 2 places.
std::optional<long long> cents(std::string_view s) {
  long long whole = 0, frac = 0;
  std::size_t i = 0;
  int places = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 15; ++i) whole = whole * 10 + (s[i] - '0');
  if (i < s.size() && s[i] == '.')
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9' && places < 2; ++i, ++places) frac = frac * 10 + (s[i] - '0');
  if (s.empty() || i != s.size()) return std::nullopt;
  for (; places < 2; ++places) frac *= 10;
  return whole * 100 + frac;
}

class Checker {
 public:
  Result<X12Interchange> run(std::string_view text);

 private:
  Error fail(std::string message) const {
    std::string where = "segment " + std::to_string(index_);
    if (!id_.empty()) where += " (" + std::string(id_) + ")";
    return Error(ErrorCode::kParse, std::move(message), std::move(where));
  }
  std::string_view el(std::size_t i) const { return i < elems_.size() ? elems_[i] : std::string_view(); }
  std::optional<Error> segment();
  std::optional<Error> closeClaim();
  std::optional<Error> closeTransaction();

  enum class State { kInterchange, kGroup, kTransaction, kDone };
  State state_ = State::kInterchange;
  X12Interchange x_;
  int index_ = 0;
  std::string_view id_;
  std::vector<std::string_view> elems_;
  // Group.
  std::string gs06_;
  int group_transactions_ = 0;
  std::set<std::string> group_controls_;
  // Transaction.
  int st_start_ = 0;
  std::map<int, std::string> hl_level_;  // HL01 -> HL03
  std::map<int, int> hl_children_;       // HL01 -> how many HLs name it as parent
  std::map<int, bool> hl_says_children_; // HL01 -> HL04 == 1
  int current_hl_ = 0;
  // Claim.
  bool in_claim_ = false;
  long long claim_total_ = 0;
  long long line_sum_ = 0;
};

std::optional<Error> Checker::closeClaim() {
  if (!in_claim_) return std::nullopt;
  in_claim_ = false;
  X12Claim& c = x_.transactions.back().claims.back();
  if (c.lines == 0) return fail("a claim (CLM) has no service line (LX)");
  if (line_sum_ != claim_total_) return fail("CLM02 is not the sum of the claim's SV102 charges");
  return std::nullopt;
}

std::optional<Error> Checker::closeTransaction() {
  for (const auto& [hl, says] : hl_says_children_) {
    bool has = hl_children_[hl] > 0;
    if (has != says) return fail("HL " + std::to_string(hl) + ": HL04 does not say whether it has children");
  }
  return std::nullopt;
}

std::optional<Error> Checker::segment() {
  const std::string_view id = id_;
  if (state_ == State::kDone) return fail("segment after IEA");
  if (id == "ISA") {
    if (state_ != State::kInterchange || index_ != 1) return fail("ISA is not the first segment");
    return std::nullopt;
  }
  if (state_ == State::kInterchange) {
    if (id == "GS") {
      state_ = State::kGroup;
      ++x_.groups;
      gs06_ = std::string(el(6));
      if (!digits(gs06_)) return fail("GS06 is not a control number");
      group_transactions_ = 0;
      group_controls_.clear();
      return std::nullopt;
    }
    if (id == "IEA") {
      if (!digits(el(1)) || toInt(el(1)) != x_.groups) return fail("IEA01 does not count the groups");
      if (el(2) != x_.control) return fail("IEA02 does not match ISA13");
      state_ = State::kDone;
      return std::nullopt;
    }
    return fail("segment outside a functional group");
  }
  if (state_ == State::kGroup) {
    if (id == "ST") {
      state_ = State::kTransaction;
      st_start_ = index_;
      ++group_transactions_;
      X12Transaction t;
      t.id = std::string(el(1));
      t.control = std::string(el(2));
      if (t.control.size() < 4 || t.control.size() > 9 || !digits(t.control))
        return fail("ST02 is not a 4 to 9 digit control number");
      if (!group_controls_.insert(t.control).second) return fail("ST02 repeats within the group");
      x_.transactions.push_back(std::move(t));
      hl_level_.clear();
      hl_children_.clear();
      hl_says_children_.clear();
      current_hl_ = 0;
      in_claim_ = false;
      return std::nullopt;
    }
    if (id == "GE") {
      if (!digits(el(1)) || toInt(el(1)) != group_transactions_) return fail("GE01 does not count the transaction sets");
      if (el(2) != gs06_) return fail("GE02 does not match GS06");
      state_ = State::kInterchange;
      return std::nullopt;
    }
    return fail("segment outside a transaction set");
  }
  // In a transaction set.
  X12Transaction& t = x_.transactions.back();
  if (id == "SE") {
    if (auto e = closeClaim()) return e;
    if (auto e = closeTransaction()) return e;
    int count = index_ - st_start_ + 1;
    if (!digits(el(1)) || toInt(el(1)) != count) return fail("SE01 does not count the segments from ST to SE");
    if (el(2) != t.control) return fail("SE02 does not match ST02");
    t.segments = count;
    t.hl_count = static_cast<int>(hl_level_.size());
    state_ = State::kGroup;
    return std::nullopt;
  }
  if (id == "ST" || id == "GS" || id == "GE" || id == "IEA" || id == "ISA") return fail("envelope segment inside a transaction set");
  if (id == "HL") {
    if (auto e = closeClaim()) return e;
    if (!digits(el(1)) || toInt(el(1)) != static_cast<int>(hl_level_.size()) + 1)
      return fail("HL01 does not count 1, 2, 3... within the transaction set");
    int hl = toInt(el(1));
    std::string_view parent = el(2);
    std::string_view level = el(3);
    if (level.empty()) return fail("HL03 (level) is empty");
    if (!parent.empty()) {
      if (!digits(parent) || hl_level_.count(toInt(parent)) == 0) return fail("HL02 names no earlier HL");
      ++hl_children_[toInt(parent)];
      if ((level == "22" && hl_level_[toInt(parent)] != "20") || (level == "23" && hl_level_[toInt(parent)] != "22"))
        return fail("HL parent is not of the level HL03 requires");
    } else if (level != "20") {
      return fail("an HL without a parent is not a billing provider (20)");
    }
    if (el(4) != "0" && el(4) != "1") return fail("HL04 is not 0 or 1");
    hl_level_[hl] = std::string(level);
    hl_says_children_[hl] = el(4) == "1";
    current_hl_ = hl;
    return std::nullopt;
  }
  if (id == "CLM") {
    if (auto e = closeClaim()) return e;
    if (current_hl_ == 0 || (hl_level_[current_hl_] != "22" && hl_level_[current_hl_] != "23"))
      return fail("CLM is not under a subscriber or patient HL");
    if (el(1).empty() || el(1).size() > 38) return fail("CLM01 is not 1 to 38 characters");
    auto total = cents(el(2));
    if (!total) return fail("CLM02 is not an amount");
    in_claim_ = true;
    claim_total_ = *total;
    line_sum_ = 0;
    t.claims.push_back(X12Claim{std::string(el(1)), 0, 0});
    return std::nullopt;
  }
  if (id == "HI" && in_claim_) {
    X12Claim& c = t.claims.back();
    if (c.lines > 0) return fail("HI after the service lines");
    for (std::size_t i = 1; i < elems_.size(); ++i)
      if (!elems_[i].empty()) ++c.diagnoses;
    return std::nullopt;
  }
  if (id == "LX") {
    if (!in_claim_) return fail("LX outside a claim");
    X12Claim& c = t.claims.back();
    if (!digits(el(1)) || toInt(el(1)) != c.lines + 1) return fail("LX01 does not count 1, 2, 3... within the claim");
    ++c.lines;
    return std::nullopt;
  }
  if (id == "SV1") {
    if (!in_claim_ || t.claims.back().lines == 0) return fail("SV1 outside a service line");
    auto charge = cents(el(2));
    if (!charge) return fail("SV102 is not an amount");
    line_sum_ += *charge;
    return std::nullopt;
  }
  return std::nullopt;
}

Result<X12Interchange> Checker::run(std::string_view text) {
  if (text.size() < 106 || text.substr(0, 3) != "ISA")
    return Unexpected(Error(ErrorCode::kParse, "the interchange does not start with a 106-character ISA", "segment 1 (ISA)"));
  x_.element = text[3];
  x_.component = text[104];
  x_.terminator = text[105];
  auto isa = split(text.substr(0, 105), x_.element);
  if (isa.size() != kIsaWidths.size())
    return Unexpected(Error(ErrorCode::kParse, "ISA does not have 16 elements", "segment 1 (ISA)"));
  for (std::size_t i = 0; i < isa.size(); ++i)
    if (isa[i].size() != kIsaWidths[i])
      return Unexpected(Error(ErrorCode::kParse, "ISA" + std::to_string(i) + " does not have its fixed width",
                              "segment 1 (ISA)"));
  x_.repetition = isa[11][0];
  x_.control = std::string(isa[13]);
  if (!digits(x_.control)) return Unexpected(Error(ErrorCode::kParse, "ISA13 is not a number", "segment 1 (ISA)"));
  if (x_.element == x_.component || x_.element == x_.terminator || x_.component == x_.terminator)
    return Unexpected(Error(ErrorCode::kParse, "the ISA delimiters are not distinct", "segment 1 (ISA)"));

  for (std::string_view raw : split(text, x_.terminator)) {
    while (!raw.empty() && (raw.front() == '\r' || raw.front() == '\n')) raw.remove_prefix(1);
    if (raw.empty()) continue;
    ++index_;
    elems_ = split(raw, x_.element);
    id_ = elems_[0];
    if (auto e = segment()) return Unexpected(std::move(*e));
  }
  id_ = {};
  if (state_ != State::kDone) return Unexpected(fail("the interchange ends before IEA"));
  return x_;
}

}  // namespace

Result<X12Interchange> checkX12Interchange(std::string_view text) {
  Checker c;
  return c.run(text);
}

}  // namespace courier::claims
