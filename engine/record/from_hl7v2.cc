#include "engine/record/from_hl7v2.h"

#include "engine/fhir/ids.h"
#include "engine/hl7v2/charset.h"
#include "engine/hl7v2/escape.h"

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace courier::record {
namespace {

using hl7v2::Message;

// The n-th (1-based) part of `s` split on `delim`; empty when absent.
std::string_view nthPart(std::string_view s, char delim, int n) {
  size_t begin = 0;
  for (int i = 1; i < n; ++i) {
    size_t at = s.find(delim, begin);
    if (at == std::string_view::npos) return {};
    begin = at + 1;
  }
  size_t end = s.find(delim, begin);
  return s.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

// Writes n (>= 0) in decimal at p; returns the end.
char* putNumber(char* p, int n) {
  char buf[12];
  int len = 0;
  do {
    buf[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0 && len < 11);
  while (len > 0) *p++ = buf[--len];
  return p;
}

// Replaces `out`, an empty Sourced, by one built in place from its two parts: no
// temporary Sourced to move from, and no assignment into empty strings (std::string's
// general replace path). noexcept: if an allocation fails the process ends rather
// than leave `out` destroyed.
void emplaceSourced(Sourced& out, std::string&& value, const char* path, size_t path_size) noexcept {
  std::destroy_at(&out);
  ::new (static_cast<void*>(&out)) Sourced{std::move(value), std::string(path, path_size)};
}
void emplaceSourced(Sourced& out, std::string_view value, const char* path, size_t path_size) noexcept {
  std::destroy_at(&out);
  ::new (static_cast<void*>(&out)) Sourced{std::string(value), std::string(path, path_size)};
}

// Reads values of one segment occurrence, each with its path as source
// (`DG1[2]-3.1`, the syntax of hl7v2::Path). Works on the segment's own field
// views: the repetition last read is split into components once (reads of
// XPN/XAD/CWE parts come one after another), so a read costs an index and, only
// when needed, a sub-component split and an unescape.
class SegmentReader {
 public:
  SegmentReader(const Message& msg, hl7v2::Segment seg, std::string_view id, int occurrence)
      : seg_(seg), delims_(msg.delimiters()) {
    std::memcpy(prefix_, id.data(), 3);
    char* p = prefix_ + 3;
    if (occurrence != 1) {
      *p++ = '[';
      p = putNumber(p, occurrence);
      *p++ = ']';
    }
    prefix_size_ = static_cast<size_t>(p - prefix_);
    is_msh_ = id == "MSH";
    latin1_ = msg.charset() == hl7v2::Charset::kLatin1;
  }
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  // The still-encoded bytes of a value (empty when absent).
  std::string_view raw(int field, int rep = 1, int component = 0, int sub = 0) const {
    if (is_msh_ && field <= 2) return seg_.field(field);  // holds the delimiters themselves
    return rawSplit(field, rep, component, sub);
  }

  // Reads the value into `out`, which must be empty; leaves it empty when the value is.
  void read(Sourced& out, int field, int rep = 1, int component = 0, int sub = 0) const {
    std::string_view r = raw(field, rep, component, sub);
    if (r.empty()) return;
    char path[64];
    size_t path_size = putPath(path, field, rep, component, sub);
    if (!latin1_ && !needsDecoding(r, delims_)) {
      emplaceSourced(out, r, path, path_size);
      return;
    }
    std::string value = needsDecoding(r, delims_) ? hl7v2::decode(r, delims_) : std::string(r);
    if (latin1_) {
      std::string utf8;
      hl7v2::appendLatin1AsUtf8(value, utf8);
      value.swap(utf8);
    }
    if (value.empty()) return;
    emplaceSourced(out, std::move(value), path, path_size);
  }

  Sourced get(int field, int rep = 1, int component = 0, int sub = 0) const {
    Sourced s;
    read(s, field, rep, component, sub);
    return s;
  }

  // read(out, field, rep, component, 1), or the whole component when that is empty.
  void readSubOrComponent(Sourced& out, int field, int rep, int component) const {
    read(out, field, rep, component, 1);
    if (out.empty()) read(out, field, rep, component);
  }
  Sourced subOrComponent(int field, int rep, int component) const {
    Sourced s;
    readSubOrComponent(s, field, rep, component);
    return s;
  }

  // First non-empty of two alternatives (e.g. a component or its sub-component).
  Sourced either(Sourced a, Sourced b) const { return a.empty() ? std::move(b) : std::move(a); }

  // Number of repetitions of a field (0 when empty), counted on the raw field: a
  // repetition may be empty in the middle.
  int repetitions(int field) const {
    std::string_view raw = seg_.field(field);
    if (raw.empty()) return 0;
    int n = 1;
    for (char c : raw)
      if (c == delims_.repetition) ++n;
    return n;
  }

  // Reads a CWE/CE/CX-like code into `c`, which must be empty.
  void readCode(Code& c, int field, int rep = 1) const {
    read(c.code, field, rep, 1);
    read(c.display, field, rep, 2);
    read(c.system, field, rep, 3);
    if (c.code.empty() && c.display.empty()) {
      // Some senders put a bare code without components.
      Sourced whole;
      read(whole, field, rep);
      if (!whole.empty() && whole.value.find_first_of("^&") == std::string::npos) c.code = std::move(whole);
    }
  }
  Code code(int field, int rep = 1) const {
    Code c;
    readCode(c, field, rep);
    return c;
  }

  void readPractitioner(Practitioner& p, int field, int rep = 1) const {
    read(p.id, field, rep, 1);
    readSubOrComponent(p.family, field, rep, 2);
    read(p.given, field, rep, 3);
  }
  Practitioner practitioner(int field, int rep = 1) const {
    Practitioner p;
    readPractitioner(p, field, rep);
    return p;
  }

  std::string name() const { return std::string(prefix_, prefix_size_); }

 private:
  static constexpr int kMaxComponents = 24;

  // The value's bytes: the repetition is split into components once and kept.
  std::string_view rawSplit(int field, int rep, int component, int sub) const {
    if (field != split_field_ || rep != split_rep_) split(field, rep);
    std::string_view v;
    if (component == 0) v = split_rep_text_;
    else if (component <= split_count_) v = components_[component - 1];
    else if (split_count_ == kMaxComponents) v = nthPart(split_rep_text_, delims_.component, component);
    if (sub > 0 && !v.empty()) v = nthPart(v, delims_.subcomponent, sub);
    return v;
  }

  void split(int field, int rep) const {
    split_field_ = field;
    split_rep_ = rep;
    std::string_view f = seg_.field(field);
    split_rep_text_ = f.empty() ? f : nthPart(f, delims_.repetition, rep);
    split_count_ = 0;
    const std::string_view t = split_rep_text_;
    if (t.empty()) return;
    const char delim = delims_.component;
    size_t begin = 0;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] != delim) continue;
      components_[split_count_++] = t.substr(begin, i - begin);
      begin = i + 1;
      if (split_count_ == kMaxComponents) return;  // later ones: nthPart
    }
    components_[split_count_++] = t.substr(begin);
  }

  // Writes "DG1[2]-3[2].1.1" at p; returns its length.
  size_t putPath(char* buf, int field, int rep, int component, int sub) const {
    char* p = buf;
    std::memcpy(p, prefix_, prefix_size_);  // at most "XXX[NNNNNNNNNN]"
    p += prefix_size_;
    *p++ = '-';
    p = putNumber(p, field);
    if (rep != 1) {
      *p++ = '[';
      p = putNumber(p, rep);
      *p++ = ']';
    }
    if (component > 0) {
      *p++ = '.';
      p = putNumber(p, component);
    }
    if (sub > 0) {
      *p++ = '.';
      p = putNumber(p, sub);
    }
    return static_cast<size_t>(p - buf);
  }

  hl7v2::Segment seg_;
  const hl7v2::Delimiters& delims_;
  char prefix_[16];  // "DG1" or "DG1[2]"
  size_t prefix_size_ = 0;
  bool is_msh_ = false;
  bool latin1_ = false;
  // The repetition last split (reads of one field's parts come together).
  mutable int split_field_ = -1;
  mutable int split_rep_ = -1;
  mutable int split_count_ = 0;
  mutable std::string_view split_rep_text_;
  mutable std::string_view components_[kMaxComponents];
};

void readIdentifiers(const SegmentReader& r, int field, std::string_view default_type,
                     std::vector<Identifier>& out) {
  int reps = r.repetitions(field);
  for (int i = 1; i <= reps; ++i) {
    Identifier id;
    id.value = r.get(field, i, 1);
    if (id.value.empty()) continue;
    id.type = r.get(field, i, 5);
    if (id.type.empty() && !default_type.empty()) {
      id.type.value = std::string(default_type);
      id.type.source = id.value.source;
    }
    id.assigning_authority = r.get(field, i, 4, 1);
    if (id.assigning_authority.empty()) id.assigning_authority = r.get(field, i, 4, 2);
    if (id.assigning_authority.empty()) id.assigning_authority = r.get(field, i, 4);
    out.push_back(std::move(id));
  }
}

// Reads an XPN name (family, given, middle, suffix, prefix, use) at `field`, repetition `rep`.
Name readName(const SegmentReader& r, int field, int rep) {
  Name name;
  name.family = r.subOrComponent(field, rep, 1);
  Sourced given = r.get(field, rep, 2);
  if (!given.empty()) name.given.push_back(std::move(given));
  Sourced middle = r.get(field, rep, 3);
  if (!middle.empty()) name.given.push_back(std::move(middle));
  name.suffix = r.get(field, rep, 4);
  name.prefix = r.get(field, rep, 5);
  name.use = r.get(field, rep, 7);
  return name;
}

// Reads XAD repetition `rep` of `field` into `out` when it has any part.
void readAddress(const SegmentReader& r, int field, int rep, std::vector<Address>& out) {
  Address a;
  Sourced street = r.subOrComponent(field, rep, 1);
  if (!street.empty()) a.lines.push_back(std::move(street));
  Sourced other = r.get(field, rep, 2);
  if (!other.empty()) a.lines.push_back(std::move(other));
  a.city = r.get(field, rep, 3);
  a.state = r.get(field, rep, 4);
  a.postal_code = r.get(field, rep, 5);
  a.country = r.get(field, rep, 6);
  a.use = r.get(field, rep, 7);
  if (a.lines.empty() && a.city.empty() && a.state.empty() && a.postal_code.empty()) return;
  out.push_back(std::move(a));
}

// Every XTN repetition of `field`; `default_use` applies when XTN-2 is empty (work phones).
void readTelecoms(const SegmentReader& r, int field, std::string_view default_use, std::vector<Telecom>& out) {
  for (int i = 1, n = r.repetitions(field); i <= n; ++i) {
    Telecom t;
    t.use = r.get(field, i, 2);
    t.equipment = r.get(field, i, 3);
    Sourced email = r.get(field, i, 4);
    Sourced local = r.get(field, i, 7);
    if (!email.empty()) {
      t.value = std::move(email);
    } else if (!local.empty()) {
      Sourced area = r.get(field, i, 6);
      t.value.source = local.source;
      t.value.value = area.empty() ? local.value : "(" + area.value + ")" + local.value;
    } else {
      t.value = r.get(field, i, 1);
    }
    if (t.value.empty()) continue;
    if (t.use.empty() && !default_use.empty()) t.use = {std::string(default_use), t.value.source};
    out.push_back(std::move(t));
  }
}

void readPatient(const SegmentReader& r, Patient& p) {
  p.source_segment = r.name();
  readIdentifiers(r, 3, "", p.identifiers);
  readIdentifiers(r, 2, "", p.identifiers);
  readIdentifiers(r, 4, "", p.identifiers);
  Identifier ssn;
  ssn.value = r.get(19);
  if (!ssn.value.empty()) {
    ssn.type = {"SS", ssn.value.source};
    p.identifiers.push_back(std::move(ssn));
  }
  Identifier dl;
  dl.value = r.get(20, 1, 1);
  if (!dl.value.empty()) {
    dl.type = {"DL", dl.value.source};
    dl.assigning_authority = r.get(20, 1, 2);
    p.identifiers.push_back(std::move(dl));
  }
  for (int i = 1, n = r.repetitions(5); i <= n; ++i) {
    Name name = readName(r, 5, i);
    if (name.family.empty() && name.given.empty()) continue;
    p.names.push_back(std::move(name));
  }
  p.birth_date = r.get(7, 1, 1);
  p.sex = r.get(8, 1, 1);
  for (int i = 1, n = r.repetitions(11); i <= n; ++i) readAddress(r, 11, i, p.addresses);
  readTelecoms(r, 13, "", p.telecoms);
  readTelecoms(r, 14, "WPN", p.telecoms);
  p.death_time = r.get(29, 1, 1);
  p.deceased = r.get(30);
}

void readEncounter(const SegmentReader& r, Encounter& e) {
  e.source_segment = r.name();
  e.patient_class = r.get(2, 1, 1);
  e.location_point_of_care = r.get(3, 1, 1);
  e.location_room = r.get(3, 1, 2);
  e.location_bed = r.get(3, 1, 3);
  e.location_facility = r.subOrComponent(3, 1, 4);
  e.admission_type = r.get(4, 1, 1);
  e.attending = r.practitioner(7);
  e.hospital_service = r.get(10, 1, 1);
  e.visit_number = r.get(19, 1, 1);
  e.discharge_disposition = r.get(36, 1, 1);
  e.admit_time = r.get(44, 1, 1);
  e.discharge_time = r.get(45, 1, 1);
}

void readDiagnosis(const SegmentReader& r, CanonicalRecord& rec) {
  Diagnosis d;
  d.source_segment = r.name();
  d.code = r.code(3);
  if (d.code.system.empty()) d.code.system = r.get(2);  // DG1-2, coding method (old versions)
  d.text = r.get(4);
  if (d.code.empty() && d.text.empty()) return;
  d.time = r.get(5, 1, 1);
  d.type = r.get(6, 1, 1);
  d.rank = r.get(15);
  d.present_on_admission = r.get(26, 1, 1);
  rec.diagnoses.push_back(std::move(d));
}

void readProcedure(const SegmentReader& r, CanonicalRecord& rec) {
  Procedure p;
  p.source_segment = r.name();
  p.code = r.code(3);
  if (p.code.system.empty()) p.code.system = r.get(2);
  p.text = r.get(4);
  if (p.code.empty() && p.text.empty()) return;
  p.time = r.get(5, 1, 1);
  p.performer = r.practitioner(11);
  if (p.performer.id.empty() && p.performer.family.empty()) p.performer = r.practitioner(12);
  rec.procedures.push_back(std::move(p));
}

void readOrder(const SegmentReader& r, CanonicalRecord& rec, const Sourced& orc_status) {
  Order o;
  o.source_segment = r.name();
  o.placer_number = r.get(2, 1, 1);
  o.filler_number = r.get(3, 1, 1);
  o.service = r.code(4);
  o.time = r.get(7, 1, 1);
  o.status = r.get(25);
  if (o.status.empty()) o.status = orc_status;
  rec.orders.push_back(std::move(o));
}

// OBX-5 repetitions 2..n of a value that is not text (text joins its lines above):
// each is a value of its own, read the way the first one is.
void readRepeatedValues(const SegmentReader& r, const std::string& type, Observation& o) {
  if (type == "TX" || type == "FT" || type == "ST") return;
  int reps = r.repetitions(5);
  if (reps < 2) return;
  const bool coded = type == "CE" || type == "CWE" || type == "CNE";
  const bool first_component = type == "NM" || type == "TS" || type == "DT" || type == "DTM";
  for (int i = 2; i <= reps; ++i) {
    Sourced v;
    Code c;
    if (coded) {
      c = r.code(5, i);
      v = c.code.empty() ? c.display : c.code;
    } else if (type == "SN") {
      v = r.get(5, i);
      if (!v.empty()) {
        std::string joined;
        for (int k = 1; k <= 4; ++k) joined += r.get(5, i, k).value;
        if (!joined.empty()) v.value = std::move(joined);
      }
    } else {
      v = first_component ? r.get(5, i, 1) : r.get(5, i);
    }
    if (v.empty()) continue;
    o.repeats.push_back(std::move(v));
    if (coded) o.coded_repeats.push_back(std::move(c));
  }
}

void readObservation(const SegmentReader& r, CanonicalRecord& rec) {
  Observation o;
  o.source_segment = r.name();
  o.code = r.code(3);
  o.value_type = r.get(2);
  const std::string& type = o.value_type.value;
  if (type == "CE" || type == "CWE" || type == "CNE") {
    o.coded_value = r.code(5);
    o.value = o.coded_value.code.empty() ? o.coded_value.display : o.coded_value.code;
  } else if (type == "SN") {
    // Structured numeric: comparator, number, separator, number.
    Sourced whole = r.get(5);
    o.value.source = whole.source;
    for (int c = 1; c <= 4; ++c) o.value.value += r.get(5, 1, c).value;
    if (o.value.value.empty()) o.value = whole;
  } else if (type == "TX" || type == "FT" || type == "ST") {
    // Text results: repetitions are lines of one text.
    int reps = r.repetitions(5);
    for (int i = 1; i <= reps; ++i) {
      Sourced line = r.get(5, i);
      if (o.value.source.empty()) o.value.source = line.source;
      if (i > 1) o.value.value += '\n';
      o.value.value += line.value;
    }
  } else {
    o.value = r.get(5);
    if (type == "NM" || type == "TS" || type == "DT" || type == "DTM") o.value = r.get(5, 1, 1);
  }
  readRepeatedValues(r, type, o);
  o.units = r.code(6);
  o.reference_range = r.get(7);
  o.abnormal_flag = r.get(8, 1, 1);
  o.status = r.get(11);
  o.effective_time = r.get(14, 1, 1);
  if (o.code.empty() && o.value.empty()) return;
  if (!rec.orders.empty()) {
    o.order_index = static_cast<int>(rec.orders.size());
    if (o.effective_time.empty()) o.effective_time = rec.orders.back().time;
  }
  rec.observations.push_back(std::move(o));
}

void readCharge(const SegmentReader& r, CanonicalRecord& rec) {
  Charge c;
  c.source_segment = r.name();
  c.transaction_date = r.get(4, 1, 1);
  c.transaction_type = r.get(6);
  c.chargemaster = r.code(7);
  c.quantity = r.get(10);
  c.amount = r.subOrComponent(11, 1, 1);
  if (c.amount.empty()) c.amount = r.subOrComponent(12, 1, 1);
  for (int i = 1, n = r.repetitions(19); i <= n; ++i) {
    Code d = r.code(19, i);
    if (!d.empty()) c.diagnoses.push_back(std::move(d));
  }
  c.hcpcs = r.code(25);
  for (int i = 1, n = r.repetitions(26); i <= n; ++i) {
    Sourced m = r.get(26, i, 1);
    if (!m.empty()) c.modifiers.push_back(std::move(m));
  }
  rec.charges.push_back(std::move(c));
}

void readImmunization(const SegmentReader& r, CanonicalRecord& rec) {
  Immunization im;
  im.source_segment = r.name();
  im.time = r.get(3, 1, 1);
  im.vaccine = r.code(5);
  im.dose = r.get(6);
  im.dose_units = r.get(7, 1, 1);
  im.lot = r.get(15);
  im.expiration = r.get(16, 1, 1);
  im.manufacturer = r.code(17);
  im.completion_status = r.get(20);
  rec.immunizations.push_back(std::move(im));
}

void readRoute(const SegmentReader& r, CanonicalRecord& rec) {
  if (rec.immunizations.empty()) return;
  rec.immunizations.back().route = r.code(1);
  rec.immunizations.back().site = r.code(2);
}

void readCoverage(const SegmentReader& r, CanonicalRecord& rec) {
  Coverage c;
  c.source_segment = r.name();
  c.plan = r.code(2);
  c.payer_id = r.get(3, 1, 1);
  c.payer_name = r.either(r.get(4, 1, 1), r.get(4));
  c.group_number = r.get(8);
  c.start = r.get(12);
  c.end = r.get(13);
  c.subscriber_name = r.subOrComponent(16, 1, 1);
  c.relationship = r.get(17, 1, 1);
  c.member_id = r.get(36);
  if (c.member_id.empty()) c.member_id = r.get(49, 1, 1);
  rec.coverages.push_back(std::move(c));
}

void readAppointment(const SegmentReader& r, CanonicalRecord& rec) {
  Appointment a;
  a.source_segment = r.name();
  a.placer_id = r.get(1, 1, 1);
  a.filler_id = r.get(2, 1, 1);
  a.reason = r.code(7);
  a.start = r.get(11, 1, 4);
  a.end = r.get(11, 1, 5);
  a.status = r.get(25, 1, 1);
  rec.appointments.push_back(std::move(a));
}

void readDocument(const SegmentReader& r, CanonicalRecord& rec) {
  Document d;
  d.source_segment = r.name();
  d.type = r.get(2, 1, 1);
  d.time = r.get(4, 1, 1);
  d.unique_id = r.get(12, 1, 1);
  d.status = r.get(17);
  rec.documents.push_back(std::move(d));
}

// NK1: next of kin / associated party.
void readContact(const SegmentReader& r, CanonicalRecord& rec) {
  Contact c;
  c.source_segment = r.name();
  c.name = readName(r, 2, 1);
  c.relationship = r.code(3);
  for (int i = 1, n = r.repetitions(4); i <= n; ++i) readAddress(r, 4, i, c.addresses);
  readTelecoms(r, 5, "", c.telecoms);
  readTelecoms(r, 6, "WPN", c.telecoms);
  c.role = r.get(7, 1, 1);
  c.start = r.get(8, 1, 1);
  c.end = r.get(9, 1, 1);
  c.organization = r.get(13, 1, 1);
  c.sex = r.get(15, 1, 1);
  c.birth_date = r.get(16, 1, 1);
  if (c.empty()) return;
  rec.contacts.push_back(std::move(c));
}

// AL1: one allergy.
void readAllergy(const SegmentReader& r, CanonicalRecord& rec) {
  Allergy a;
  a.source_segment = r.name();
  a.allergen = r.code(3);
  if (a.allergen.empty()) return;
  a.type = r.get(2, 1, 1);
  a.severity = r.get(4, 1, 1);
  for (int i = 1, n = r.repetitions(5); i <= n; ++i) {
    Sourced reaction = r.get(5, i);
    if (!reaction.empty()) a.reactions.push_back(std::move(reaction));
  }
  a.onset = r.get(6, 1, 1);
  rec.allergies.push_back(std::move(a));
}

bool isSelf(std::string_view relationship) {
  return relationship == "SEL" || relationship == "18" || relationship == "01";
}

// GT1: the guarantor.
void readGuarantor(const SegmentReader& r, CanonicalRecord& rec) {
  Guarantor g;
  g.source_segment = r.name();
  g.person.source_segment = r.name();
  std::vector<Identifier> numbers;
  readIdentifiers(r, 2, "", numbers);
  if (!numbers.empty()) g.number = std::move(numbers.front());
  g.person.name = readName(r, 3, 1);
  readAddress(r, 5, 1, g.person.addresses);
  readTelecoms(r, 6, "", g.person.telecoms);
  readTelecoms(r, 7, "WPN", g.person.telecoms);
  g.person.birth_date = r.get(8, 1, 1);
  g.person.sex = r.get(9, 1, 1);
  g.type = r.get(10, 1, 1);
  g.person.relationship = r.code(11);
  g.person.start = r.get(13, 1, 1);
  g.person.end = r.get(14, 1, 1);
  g.person.organization = r.subOrComponent(16, 1, 1);
  g.is_patient = isSelf(g.person.relationship.code.value);
  if (g.person.empty() && g.number.value.empty()) return;
  rec.guarantors.push_back(std::move(g));
}

// Patient identifiers carried outside PID, as the HL7 v2-to-FHIR mapping places
// them on Patient.identifier: IN2-6 Medicare, IN2-8 Medicaid, IN2-10 military id,
// IN2-61 member number (CX), DB1-3 disabled person id (CX).
void readExtraPatientIdentifiers(const SegmentReader& r, std::string_view id, Patient& p) {
  auto plain = [&](int field, std::string_view type) {
    Identifier i;
    i.value = r.get(field, 1, 1);
    if (i.value.empty()) return;
    i.type = {std::string(type), i.value.source};
    p.identifiers.push_back(std::move(i));
  };
  if (id == "IN2") {
    plain(6, "MC");
    plain(8, "MA");
    plain(10, "MI");
    readIdentifiers(r, 61, "MB", p.identifiers);
  } else if (id == "DB1") {
    readIdentifiers(r, 3, "", p.identifiers);
  }
}

}  // namespace

Result<CanonicalRecord> fromHl7v2(const Message& msg) {
  CanonicalRecord rec;
  if (msg.segmentCount() == 0)
    return Unexpected(Error(ErrorCode::kParse, "message has no MSH segment", "MSH"));
  SegmentReader msh(msg, msg.segment(0), "MSH", 1);
  rec.message_type = msh.get(9, 1, 1);
  if (rec.message_type.empty())
    return Unexpected(Error(ErrorCode::kParse, "message type is missing", "MSH-9"));
  rec.trigger = msh.get(9, 1, 2);
  rec.message_id = msh.get(10);
  rec.sent_time = msh.get(7, 1, 1);
  rec.sending_application = msh.get(3, 1, 1);
  rec.sending_facility = msh.get(4, 1, 1);
  if (rec.message_id.empty()) {
    fhir::Hash128 h = fhir::hash128(msg.raw());
    rec.content_hash = std::to_string(h.hi) + "-" + std::to_string(h.lo);
  }

  const bool is_document = rec.message_type.value == "MDM";
  // Occurrence number of each segment id seen so far (a message has few distinct ids).
  int counts[64] = {};
  char ids[64][4] = {};
  int used = 0;
  auto occurrence = [&](std::string_view id) {
    for (int i = 0; i < used; ++i)
      if (std::string_view(ids[i], 3) == id) return ++counts[i];
    if (used == 64) return 0;
    std::memcpy(ids[used], id.data(), 3);
    counts[used] = 1;
    return counts[used++];
  };

  Sourced orc_status;
  for (size_t s = 0; s < msg.segmentCount(); ++s) {
    hl7v2::Segment segment = msg.segment(s);
    std::string_view id = segment.name();
    if (id.size() != 3) continue;
    int occ = occurrence(id);
    if (occ == 0) continue;
    if (id == "MSH") continue;
    SegmentReader r(msg, segment, id, occ);
    if (id == "PID") {
      if (!rec.has_patient) {  // the first patient is the subject (A17 swaps carry two)
        rec.has_patient = true;
        readPatient(r, rec.patient);
      }
    } else if (id == "PV1") {
      if (!rec.has_encounter) {
        rec.has_encounter = true;
        readEncounter(r, rec.encounter);
      }
    } else if (id == "PV2") {
      if (rec.has_encounter && rec.encounter.reason.empty())
        rec.encounter.reason = r.either(r.get(3, 1, 2), r.get(3, 1, 1));
    } else if (id == "DG1") {
      readDiagnosis(r, rec);
    } else if (id == "PR1") {
      readProcedure(r, rec);
    } else if (id == "ORC") {
      orc_status = r.get(5);
    } else if (id == "OBR") {
      readOrder(r, rec, orc_status);
      orc_status = {};
    } else if (id == "OBX") {
      if (is_document && !rec.documents.empty()) {
        Document& d = rec.documents.back();
        int reps = r.repetitions(5);
        for (int i = 1; i <= reps; ++i) {
          Sourced line = r.get(5, i);
          if (d.text_source.empty()) d.text_source = line.source;
          if (!d.text.empty()) d.text += '\n';
          d.text += line.value;
        }
      } else {
        readObservation(r, rec);
      }
    } else if (id == "FT1") {
      readCharge(r, rec);
    } else if (id == "RXA") {
      readImmunization(r, rec);
    } else if (id == "RXR") {
      readRoute(r, rec);
    } else if (id == "IN1") {
      readCoverage(r, rec);
    } else if (id == "SCH") {
      readAppointment(r, rec);
    } else if (id == "AIS") {
      if (!rec.appointments.empty() && rec.appointments.back().start.empty())
        rec.appointments.back().start = r.get(4, 1, 1);
    } else if (id == "TXA") {
      readDocument(r, rec);
    } else if ((id == "IN2" || id == "DB1") && rec.has_patient) {
      readExtraPatientIdentifiers(r, id, rec.patient);
    } else if (id == "NK1") {
      readContact(r, rec);
    } else if (id == "AL1") {
      readAllergy(r, rec);
    } else if (id == "GT1") {
      readGuarantor(r, rec);
    } else if (id == "MRG") {
      readIdentifiers(r, 1, "", rec.merged_identifiers);
    }
  }
  if (!rec.has_patient)
    return Unexpected(Error(ErrorCode::kParse, "message has no patient (PID segment) to convert", "PID"));
  return rec;
}

}  // namespace courier::record
