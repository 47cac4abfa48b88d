#include "engine/routing/router.h"

#include <array>
#include <optional>

#include "engine/routing/code_key.h"
#include "engine/routing/specialty.h"
#include "engine/routing/specialty_table.h"

namespace courier::routing {
namespace {

using coding::CodeSystem;
using config::CoderOutcome;
using config::FieldOp;

struct TypeRule {
  std::string type;
  std::string trigger;  // empty: any trigger
};

// A sending application/facility rule: namespace id, and the whole HD when written with '^'.
struct HdRule {
  std::string namespace_id;
  std::string full;  // empty when the rule is a bare namespace id
};

struct RangeRule {
  CodeSystem system;
  CodeRangeKey range;
};

struct FieldRule {
  hl7v2::Path path;
  FieldOp op;
  std::vector<std::string> values;
};

struct SystemCode {
  CodeSystem system;
  CodeKey key;
};

// The codes of one message, gathered once per route() call without allocating for the
// usual handful.
class CodeList {
 public:
  void add(CodeSystem system, std::string_view code) {
    auto key = CodeKey::from(code);
    if (!key) return;
    if (n_ < inline_.size()) inline_[n_++] = {system, *key};
    else more_.push_back({system, *key});
  }
  template <typename F>
  bool any(F&& f) const {
    for (std::size_t i = 0; i < n_; ++i) {
      if (f(inline_[i])) return true;
    }
    for (const auto& c : more_) {
      if (f(c)) return true;
    }
    return false;
  }

 private:
  std::array<SystemCode, 24> inline_;
  std::size_t n_ = 0;
  std::vector<SystemCode> more_;
};

void gatherCodes(const RouteInput& in, CodeList& out) {
  if (in.coded != nullptr) {
    for (const auto* items : {&in.coded->diagnoses, &in.coded->procedures, &in.coded->charges}) {
      for (const coding::CodingResult& r : *items) {
        for (const coding::AssignedCode& c : r.codes) out.add(c.system, c.code);
      }
    }
    return;
  }
  for (const record::Diagnosis& d : in.record.diagnoses) {
    auto s = sentSystem(d.code.system.value);
    if (s == SentSystem::kIcd10Cm || s == SentSystem::kUnnamed) out.add(CodeSystem::kIcd10Cm, d.code.code.value);
  }
  for (const record::Procedure& p : in.record.procedures) {
    auto s = sentSystem(p.code.system.value);
    if (s == SentSystem::kIcd10Pcs) out.add(CodeSystem::kIcd10Pcs, p.code.code.value);
    if (s == SentSystem::kHcpcs) out.add(CodeSystem::kHcpcs, p.code.code.value);
  }
  for (const record::Charge& c : in.record.charges) {
    if (!c.hcpcs.code.empty()) out.add(CodeSystem::kHcpcs, c.hcpcs.code.value);  // FT1-25 is HCPCS/CPT
  }
}

bool billable(const coding::CodedRecord& coded) {
  bool any = false;
  for (const auto* items : {&coded.diagnoses, &coded.procedures, &coded.charges}) {
    for (const coding::CodingResult& r : *items) {
      if (r.review || r.codes.empty()) return false;
      any = true;
    }
  }
  return any;  // nothing coded is nothing to bill
}

bool needsReview(const coding::CodedRecord& coded) {
  for (const auto* items : {&coded.diagnoses, &coded.procedures, &coded.charges}) {
    for (const coding::CodingResult& r : *items) {
      if (r.review) return true;
    }
  }
  return false;
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
  for (const auto& v : list) {
    if (v == value) return true;
  }
  return false;
}

bool hdMatches(const std::vector<HdRule>& rules, std::string_view namespace_id, const hl7v2::Message* msg,
               const hl7v2::Path& path) {
  std::string_view full;
  bool full_read = false;
  for (const HdRule& r : rules) {
    if (r.full.empty() || msg == nullptr) {
      if (r.namespace_id == namespace_id) return true;
      continue;
    }
    if (!full_read) {
      full = msg->rawValue(path);
      full_read = true;
    }
    if (r.full == full) return true;
  }
  return false;
}

// The value of a field, decoded only when its bytes need it (escapes, non-ASCII).
bool fieldMatches(const FieldRule& rule, const hl7v2::Message& msg) {
  std::string_view raw = msg.rawValue(rule.path);
  if (rule.op == FieldOp::kExists) return !raw.empty();
  if (rule.op == FieldOp::kMissing) return raw.empty();
  std::string decoded;
  std::string_view value = raw;
  const char esc = msg.delimiters().escape;
  for (char c : raw) {
    if ((esc != '\0' && c == esc) || static_cast<unsigned char>(c) >= 0x80) {
      decoded = msg.get(rule.path);
      value = decoded;
      break;
    }
  }
  switch (rule.op) {
    case FieldOp::kEquals:
      return !value.empty() && contains(rule.values, value);
    case FieldOp::kNotEquals:
      return !contains(rule.values, value);
    case FieldOp::kPrefix:
      for (const auto& p : rule.values) {
        if (value.size() >= p.size() && value.compare(0, p.size(), p) == 0) return true;
      }
      return false;
    case FieldOp::kExists:
    case FieldOp::kMissing:
      break;
  }
  return false;
}

Error configError(std::string message, std::string where) {
  return Error(ErrorCode::kConfig, std::move(message), std::move(where));
}

}  // namespace

struct Router::CompiledRoute {
  std::string name;
  std::vector<std::uint16_t> destinations;
  std::vector<std::string> listeners;
  std::vector<TypeRule> types;
  std::vector<HdRule> applications;
  std::vector<HdRule> facilities;
  std::vector<std::string> patient_classes;
  std::vector<std::string> hospital_services;
  std::optional<bool> has_diagnoses;
  std::optional<bool> has_procedures;
  std::optional<bool> has_charges;
  CoderOutcome coded = CoderOutcome::kAny;
  std::vector<RangeRule> ranges;
  std::uint64_t specialties = 0;  // 0: no condition (a listed specialty sets a bit)
  std::vector<FieldRule> fields;
};

Router::Router() = default;
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;
std::size_t Router::routeCount() const { return routes_.size(); }

namespace {
const hl7v2::Path& msh3() {
  static const hl7v2::Path p = *hl7v2::Path::parse("MSH-3");
  return p;
}
const hl7v2::Path& msh4() {
  static const hl7v2::Path p = *hl7v2::Path::parse("MSH-4");
  return p;
}

std::vector<HdRule> hdRules(const std::vector<std::string>& values) {
  std::vector<HdRule> out;
  for (const auto& v : values) {
    std::size_t caret = v.find('^');
    if (caret == std::string::npos) out.push_back({v, {}});
    else out.push_back({v.substr(0, caret), v});
  }
  return out;
}
}  // namespace

Result<Router> Router::build(const config::Config& config) {
  Router router;
  for (const auto& d : config.destinations) router.destinations_.push_back(d.name);
  const SpecialtyTable& specialties = SpecialtyTable::builtIn();
  (void)msh3();  // initialize the shared paths before any thread routes
  (void)msh4();

  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    const config::RouteConfig& rc = config.routes[i];
    const config::RouteMatch& m = rc.match;
    const std::string at = "routes[" + std::to_string(i) + "]";
    CompiledRoute r;
    r.name = rc.name;
    for (std::size_t j = 0; j < rc.destinations.size(); ++j) {
      std::size_t id = 0;
      while (id < router.destinations_.size() && router.destinations_[id] != rc.destinations[j]) ++id;
      if (id == router.destinations_.size()) {
        return Unexpected(configError("no destination is named '" + rc.destinations[j] + "'",
                                      at + ".destinations[" + std::to_string(j) + "]"));
      }
      bool dup = false;
      for (auto existing : r.destinations) dup = dup || existing == id;
      if (!dup) r.destinations.push_back(static_cast<std::uint16_t>(id));
    }
    r.listeners = m.listeners;
    for (const auto& t : m.message_types) {
      std::size_t caret = t.find('^');
      if (caret == std::string::npos) r.types.push_back({t, {}});
      else r.types.push_back({t.substr(0, caret), t.substr(caret + 1)});
    }
    r.applications = hdRules(m.sending_applications);
    r.facilities = hdRules(m.sending_facilities);
    r.patient_classes = m.patient_classes;
    r.hospital_services = m.hospital_services;
    r.has_diagnoses = m.has_diagnoses;
    r.has_procedures = m.has_procedures;
    r.has_charges = m.has_charges;
    r.coded = m.coded;
    for (std::size_t j = 0; j < m.specialties.size(); ++j) {
      auto bit = specialties.find(m.specialties[j]);
      if (!bit) {
        std::string known;
        for (const auto& n : specialties.names()) known += (known.empty() ? "" : ", ") + n;
        return Unexpected(configError("'" + m.specialties[j] + "' is not a specialty Courier derives; known: " + known,
                                      at + ".match.specialties[" + std::to_string(j) + "]"));
      }
      r.specialties |= std::uint64_t{1} << *bit;
    }
    for (std::size_t j = 0; j < m.codes.size(); ++j) {
      const config::CodeRange& cr = m.codes[j];
      const std::string where = at + ".match.codes[" + std::to_string(j) + "]";
      std::optional<CodeSystem> system;
      if (cr.system == "icd10cm") system = CodeSystem::kIcd10Cm;
      if (cr.system == "icd10pcs") system = CodeSystem::kIcd10Pcs;
      if (cr.system == "hcpcs") system = CodeSystem::kHcpcs;
      auto range = CodeRangeKey::of(cr.from, cr.to);
      if (!system) return Unexpected(configError("unknown code system '" + cr.system + "'", where));
      if (!range) return Unexpected(configError("'" + cr.from + "-" + cr.to + "' is not a code range", where));
      r.ranges.push_back({*system, *range});
    }
    for (std::size_t j = 0; j < m.fields.size(); ++j) {
      const config::FieldTest& ft = m.fields[j];
      auto path = hl7v2::Path::parse(ft.path);
      if (!path) {
        return Unexpected(configError("'" + ft.path + "' is not an HL7 v2 path: " + path.error().message,
                                      at + ".match.fields[" + std::to_string(j) + "]"));
      }
      r.fields.push_back({*path, ft.op, ft.values});
    }
    router.routes_.push_back(std::move(r));
  }
  return router;
}

std::vector<RouteDecision> Router::route(const RouteInput& in) const {
  std::vector<RouteDecision> out;
  const record::CanonicalRecord& rec = in.record;

  // Computed at most once per message, and only when some route that got that far needs it.
  CodeList codes;
  bool codes_ready = false;
  std::uint64_t specialty_mask = 0;
  bool specialties_ready = false;
  int outcome = -1;         // of in.coded: 1 billable, 2 needs review, 0 neither; -1 not yet known
  std::uint64_t taken = 0;  // destination ids < 64 already in `out`

  for (const CompiledRoute& r : routes_) {
    if (!r.listeners.empty() && !contains(r.listeners, in.listener)) continue;
    if (!r.types.empty()) {
      bool any = false;
      for (const TypeRule& t : r.types) {
        if (t.type == rec.message_type.value && (t.trigger.empty() || t.trigger == rec.trigger.value)) {
          any = true;
          break;
        }
      }
      if (!any) continue;
    }
    if (!r.facilities.empty() && !hdMatches(r.facilities, rec.sending_facility.value, in.message, msh4())) continue;
    if (!r.applications.empty() && !hdMatches(r.applications, rec.sending_application.value, in.message, msh3()))
      continue;
    if (!r.patient_classes.empty() && !contains(r.patient_classes, rec.encounter.patient_class.value)) continue;
    if (!r.hospital_services.empty() && !contains(r.hospital_services, rec.encounter.hospital_service.value)) continue;
    if (r.has_diagnoses && *r.has_diagnoses == rec.diagnoses.empty()) continue;
    if (r.has_procedures && *r.has_procedures == rec.procedures.empty()) continue;
    if (r.has_charges && *r.has_charges == rec.charges.empty()) continue;
    if (r.coded != CoderOutcome::kAny) {
      if (in.coded == nullptr) continue;
      if (outcome < 0) outcome = billable(*in.coded) ? 1 : needsReview(*in.coded) ? 2 : 0;
      if (r.coded == CoderOutcome::kAllBillable && outcome != 1) continue;
      if (r.coded == CoderOutcome::kNeedsReview && outcome != 2) continue;
    }
    if (!r.ranges.empty()) {
      if (!codes_ready) {
        gatherCodes(in, codes);
        codes_ready = true;
      }
      bool any = codes.any([&r](const SystemCode& c) {
        for (const RangeRule& rule : r.ranges) {
          if (rule.system == c.system && rule.range.contains(c.key)) return true;
        }
        return false;
      });
      if (!any) continue;
    }
    if (r.specialties != 0) {
      if (!specialties_ready) {
        specialty_mask = specialtyMask(rec, in.coded);
        specialties_ready = true;
      }
      if ((specialty_mask & r.specialties) == 0) continue;
    }
    if (!r.fields.empty()) {
      if (in.message == nullptr) continue;
      bool all = true;
      for (const FieldRule& f : r.fields) {
        if (!fieldMatches(f, *in.message)) {
          all = false;
          break;
        }
      }
      if (!all) continue;
    }

    for (std::uint16_t id : r.destinations) {
      if (id < 64) {
        if (taken & (std::uint64_t{1} << id)) continue;
        taken |= std::uint64_t{1} << id;
      } else {
        bool seen = false;
        for (const auto& d : out) seen = seen || d.destination == destinations_[id];
        if (seen) continue;
      }
      out.push_back({destinations_[id], r.name});
    }
  }
  return out;
}

}  // namespace courier::routing
