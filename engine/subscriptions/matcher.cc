#include "engine/subscriptions/matcher.h"

#include <algorithm>
#include <array>
#include <optional>
#include <unordered_map>

namespace courier::subscriptions {
namespace {

using Slot = uint32_t;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using SlotMap = std::unordered_map<std::string, std::vector<Slot>, StringHash, std::equal_to<>>;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

void lowerInto(std::string_view in, std::string& out) {
  out.resize(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = lower(in[i]);
}

// A code term as the matcher tests it: exact, or the half-open interval [low, end).
struct Term {
  CodeSystemId system;
  std::string low;
  std::string end;  // for a range: high with its last character incremented, so that every
                    // code starting with high sorts below it (D49 -> "D4:" holds D49.511)
  bool exact;
  bool holds(std::string_view key) const { return exact ? key == low : key >= low && key < end; }
};

struct Compiled {
  FilterKey key;
  std::vector<std::string> values;
  std::vector<Term> terms;
};

Term compileTerm(const CodeTerm& t) {
  Term out{t.system, t.low, {}, !t.isRange()};
  if (!out.exact) {
    out.end = t.high;
    out.end.back() = static_cast<char>(out.end.back() + 1);
  }
  return out;
}

// Ranges of one system: bounds cut the key line into intervals; covering[i] holds the slots
// whose ranges contain [bounds[i], bounds[i+1]).
struct RangeIndex {
  struct Entry {
    std::string low, end;
    Slot slot;
  };
  std::vector<Entry> entries;
  std::vector<std::string> bounds;
  std::vector<std::vector<Slot>> covering;

  void rebuild() {
    bounds.clear();
    covering.clear();
    for (const Entry& e : entries) {
      bounds.push_back(e.low);
      bounds.push_back(e.end);
    }
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    covering.resize(bounds.size());
    // Sweep: each range adds its slot to the intervals from its low bound up to its end.
    for (const Entry& e : entries) {
      auto first = std::lower_bound(bounds.begin(), bounds.end(), e.low) - bounds.begin();
      auto last = std::lower_bound(bounds.begin(), bounds.end(), e.end) - bounds.begin();
      for (auto i = first; i < last; ++i) covering[static_cast<std::size_t>(i)].push_back(e.slot);
    }
  }

  void lookup(std::string_view key, std::vector<Slot>& out) const {
    auto it = std::upper_bound(bounds.begin(), bounds.end(), key,
                               [](std::string_view k, const std::string& b) { return k < b; });
    if (it == bounds.begin()) return;
    const auto& slots = covering[static_cast<std::size_t>(it - bounds.begin() - 1)];
    out.insert(out.end(), slots.begin(), slots.end());
  }

  void removeSlot(Slot slot) {
    std::erase_if(entries, [slot](const Entry& e) { return e.slot == slot; });
  }
};

struct TopicIndex {
  SlotMap patient;
  std::array<SlotMap, kCodeSystemCount> exact_codes;
  std::array<RangeIndex, kCodeSystemCount> ranges;
  SlotMap specialty;
  SlotMap facility;
  SlotMap patient_class;
  std::vector<Slot> unfiltered;
};

// The event in matching form, computed once per match() call.
struct NormalizedEvent {
  std::string_view patient;
  struct Code {
    CodeSystemId system;
    std::string key;
  };
  std::vector<Code> codes;
  std::size_t code_count = 0;
  std::vector<std::string> specialties;
  std::size_t specialty_count = 0;
  std::string facility;
  std::string patient_class;
  std::vector<Slot> candidates;
};

// Interning of system URIs seen in events: a linear probe over five URIs and their aliases
// would cost more than the rest of the match, so the last lookups are cached.
std::optional<CodeSystemId> systemOf(std::string_view uri) {
  thread_local std::string last_uri[4];
  thread_local std::optional<CodeSystemId> last_id[4];
  thread_local unsigned next = 0;
  for (unsigned i = 0; i < 4; ++i)
    if (last_uri[i] == uri) return last_id[i];
  auto id = codeSystemFromUri(uri);
  last_uri[next].assign(uri);
  last_id[next] = id;
  next = (next + 1) % 4;
  return id;
}

void normalize(const Event& e, NormalizedEvent& n) {
  n.patient = e.patient_ref;
  if (n.patient.substr(0, 8) == "Patient/") n.patient.remove_prefix(8);
  n.code_count = 0;
  for (const std::string& c : e.codes) {
    auto bar = c.find('|');
    if (bar == std::string::npos) continue;
    auto system = systemOf(std::string_view(c).substr(0, bar));
    if (!system) continue;
    if (n.codes.size() <= n.code_count) n.codes.emplace_back();
    NormalizedEvent::Code& code = n.codes[n.code_count++];
    code.system = *system;
    code.key.clear();
    for (std::size_t i = bar + 1; i < c.size(); ++i)
      if (c[i] != '.' && c[i] != ' ') code.key += upper(c[i]);
  }
  n.specialty_count = 0;
  for (const std::string& s : e.specialties) {
    if (n.specialties.size() <= n.specialty_count) n.specialties.emplace_back();
    lowerInto(s, n.specialties[n.specialty_count++]);
  }
  lowerInto(e.facility, n.facility);
  n.patient_class.resize(e.patient_class.size());
  for (std::size_t i = 0; i < e.patient_class.size(); ++i) n.patient_class[i] = upper(e.patient_class[i]);
}

bool anyEquals(const std::vector<std::string>& values, std::string_view v) {
  for (const std::string& s : values)
    if (s == v) return true;
  return false;
}

bool satisfies(const Compiled& f, const NormalizedEvent& n) {
  switch (f.key) {
    case FilterKey::kPatient: return anyEquals(f.values, n.patient);
    case FilterKey::kFacility: return anyEquals(f.values, n.facility);
    case FilterKey::kPatientClass: return anyEquals(f.values, n.patient_class);
    case FilterKey::kSpecialty:
      for (std::size_t i = 0; i < n.specialty_count; ++i)
        if (anyEquals(f.values, n.specialties[i])) return true;
      return false;
    case FilterKey::kCode:
      for (std::size_t i = 0; i < n.code_count; ++i)
        for (const Term& t : f.terms)
          if (t.system == n.codes[i].system && t.holds(n.codes[i].key)) return true;
      return false;
  }
  return false;
}

void eraseSlot(std::vector<Slot>& v, Slot slot) { std::erase(v, slot); }

void eraseFromMap(SlotMap& map, const std::string& key, Slot slot) {
  auto it = map.find(key);
  if (it == map.end()) return;
  eraseSlot(it->second, slot);
  if (it->second.empty()) map.erase(it);
}

}  // namespace

struct Matcher::Impl {
  struct Entry {
    SubscriptionSpec spec;
    std::vector<Compiled> filters;
    int primary = -1;  // index into filters of the indexed one; -1: unfiltered
    bool live = false;
  };
  std::vector<Entry> entries;
  std::vector<Slot> free_slots;
  std::unordered_map<std::string, Slot, StringHash, std::equal_to<>> by_id;
  std::array<TopicIndex, kTopicCount> topics;

  // Lower is more selective.
  static int rank(FilterKey key) {
    switch (key) {
      case FilterKey::kPatient: return 0;
      case FilterKey::kCode: return 1;
      case FilterKey::kFacility: return 2;
      case FilterKey::kSpecialty: return 3;
      case FilterKey::kPatientClass: return 4;
    }
    return 5;
  }

  SlotMap* mapFor(TopicIndex& t, FilterKey key) {
    switch (key) {
      case FilterKey::kPatient: return &t.patient;
      case FilterKey::kSpecialty: return &t.specialty;
      case FilterKey::kFacility: return &t.facility;
      case FilterKey::kPatientClass: return &t.patient_class;
      case FilterKey::kCode: return nullptr;
    }
    return nullptr;
  }

  void index(Slot slot) {
    Entry& e = entries[slot];
    TopicIndex& t = topics[static_cast<std::size_t>(e.spec.topic)];
    if (e.primary < 0) {
      t.unfiltered.push_back(slot);
      return;
    }
    const Compiled& f = e.filters[static_cast<std::size_t>(e.primary)];
    if (f.key != FilterKey::kCode) {
      SlotMap& map = *mapFor(t, f.key);
      for (const std::string& v : f.values) {
        auto& list = map[v];
        if (std::find(list.begin(), list.end(), slot) == list.end()) list.push_back(slot);
      }
      return;
    }
    std::array<bool, kCodeSystemCount> touched{};
    for (const Term& term : f.terms) {
      auto s = static_cast<std::size_t>(term.system);
      if (term.exact) {
        auto& list = t.exact_codes[s][term.low];
        if (std::find(list.begin(), list.end(), slot) == list.end()) list.push_back(slot);
      } else {
        t.ranges[s].entries.push_back({term.low, term.end, slot});
        touched[s] = true;
      }
    }
    for (std::size_t s = 0; s < kCodeSystemCount; ++s)
      if (touched[s]) t.ranges[s].rebuild();
  }

  void unindex(Slot slot) {
    Entry& e = entries[slot];
    TopicIndex& t = topics[static_cast<std::size_t>(e.spec.topic)];
    if (e.primary < 0) {
      eraseSlot(t.unfiltered, slot);
      return;
    }
    const Compiled& f = e.filters[static_cast<std::size_t>(e.primary)];
    if (f.key != FilterKey::kCode) {
      for (const std::string& v : f.values) eraseFromMap(*mapFor(t, f.key), v, slot);
      return;
    }
    std::array<bool, kCodeSystemCount> touched{};
    for (const Term& term : f.terms) {
      auto s = static_cast<std::size_t>(term.system);
      if (term.exact) {
        eraseFromMap(t.exact_codes[s], term.low, slot);
      } else if (!touched[s]) {
        t.ranges[s].removeSlot(slot);
        touched[s] = true;
      }
    }
    for (std::size_t s = 0; s < kCodeSystemCount; ++s)
      if (touched[s]) t.ranges[s].rebuild();
  }

  void compile(Entry& e) {
    e.filters.clear();
    e.primary = -1;
    for (const Filter& f : e.spec.filters) {
      Compiled c{f.key, f.values, {}};
      for (const CodeTerm& t : f.codes) c.terms.push_back(compileTerm(t));
      e.filters.push_back(std::move(c));
    }
    for (std::size_t i = 0; i < e.filters.size(); ++i)
      if (e.primary < 0 || rank(e.filters[i].key) < rank(e.filters[static_cast<std::size_t>(e.primary)].key))
        e.primary = static_cast<int>(i);
  }
};

Matcher::Matcher() : impl_(std::make_unique<Impl>()) {}
Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;

Result<void> Matcher::add(SubscriptionSpec spec) {
  if (spec.id.empty()) return Unexpected(Error(ErrorCode::kInvalidArgument, "a subscription needs an id", "Subscription.id"));
  if (impl_->by_id.find(spec.id) != impl_->by_id.end())
    return Unexpected(Error(ErrorCode::kAlreadyExists, "a subscription with this id is already held", "Subscription.id"));
  Slot slot;
  if (!impl_->free_slots.empty()) {
    slot = impl_->free_slots.back();
    impl_->free_slots.pop_back();
  } else {
    slot = static_cast<Slot>(impl_->entries.size());
    impl_->entries.emplace_back();
  }
  Impl::Entry& e = impl_->entries[slot];
  e.spec = std::move(spec);
  e.live = true;
  impl_->compile(e);
  impl_->by_id.emplace(e.spec.id, slot);
  impl_->index(slot);
  return Ok();
}

Result<void> Matcher::update(SubscriptionSpec spec) {
  if (!remove(spec.id)) return Unexpected(Error(ErrorCode::kNotFound, "no subscription with this id is held", "Subscription.id"));
  return add(std::move(spec));
}

bool Matcher::remove(std::string_view id) {
  auto it = impl_->by_id.find(id);
  if (it == impl_->by_id.end()) return false;
  Slot slot = it->second;
  impl_->by_id.erase(it);
  impl_->unindex(slot);
  Impl::Entry& e = impl_->entries[slot];
  e.live = false;
  e.spec = SubscriptionSpec();
  e.filters.clear();
  impl_->free_slots.push_back(slot);
  return true;
}

const SubscriptionSpec* Matcher::find(std::string_view id) const {
  auto it = impl_->by_id.find(id);
  return it == impl_->by_id.end() ? nullptr : &impl_->entries[it->second].spec;
}

std::size_t Matcher::size() const { return impl_->by_id.size(); }

void Matcher::match(const Event& event, std::vector<std::string_view>& out) const {
  out.clear();
  thread_local NormalizedEvent n;
  normalize(event, n);
  const TopicIndex& t = impl_->topics[static_cast<std::size_t>(event.topic)];
  std::vector<Slot>& cand = n.candidates;
  cand.clear();

  auto fromMap = [&cand](const SlotMap& map, std::string_view key) {
    if (map.empty() || key.empty()) return;
    auto it = map.find(key);
    if (it != map.end()) cand.insert(cand.end(), it->second.begin(), it->second.end());
  };
  fromMap(t.patient, n.patient);
  for (std::size_t i = 0; i < n.code_count; ++i) {
    auto s = static_cast<std::size_t>(n.codes[i].system);
    fromMap(t.exact_codes[s], n.codes[i].key);
    if (!t.ranges[s].bounds.empty()) t.ranges[s].lookup(n.codes[i].key, cand);
  }
  fromMap(t.facility, n.facility);
  for (std::size_t i = 0; i < n.specialty_count; ++i) fromMap(t.specialty, n.specialties[i]);
  fromMap(t.patient_class, n.patient_class);
  cand.insert(cand.end(), t.unfiltered.begin(), t.unfiltered.end());

  if (cand.size() > 1) {
    std::sort(cand.begin(), cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
  }
  for (Slot slot : cand) {
    const Impl::Entry& e = impl_->entries[slot];
    bool ok = true;
    for (const Compiled& f : e.filters) {
      if (!satisfies(f, n)) {
        ok = false;
        break;
      }
    }
    if (ok) out.push_back(e.spec.id);
  }
}

std::vector<std::string> Matcher::match(const Event& event) const {
  std::vector<std::string_view> ids;
  match(event, ids);
  return {ids.begin(), ids.end()};
}

}  // namespace courier::subscriptions
