#include "engine/record/from_hl7v2.h"

#include "engine/fhir/ids.h"
#include "engine/hl7v2/charset.h"
#include "engine/hl7v2/escape.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
  // Field, repetition and component numbers are almost always one or two digits.
  if (n >= 0 && n < 10) {
    *p++ = static_cast<char>('0' + n);
    return p;
  }
  if (n >= 10 && n < 100) {
    *p++ = static_cast<char>('0' + n / 10);
    *p++ = static_cast<char>('0' + n % 10);
    return p;
  }
  char buf[12];
  int len = 0;
  do {
    buf[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0 && len < 11);
  while (len > 0) *p++ = buf[--len];
  return p;
}

// A three-letter segment id as one number, for switching on it.
constexpr uint32_t segmentTag(std::string_view id) {
  return static_cast<uint32_t>(static_cast<unsigned char>(id[0])) |
         static_cast<uint32_t>(static_cast<unsigned char>(id[1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(id[2])) << 16;
}

// v.emplace_back(), with room for up to four elements from the first on: a record's
// lists are short, and growing 1, 2, 4 would move every element (a few dozen strings)
// twice. No more than fit in 1 KB, though: glibc serves a block up to 1032 bytes from
// its per-thread cache, a larger one from its bins at several times the cost (a few
// hundred instructions to allocate and free), and most lists hold one or two elements.
template <typename T>
T& append(std::vector<T>& v) {
  constexpr size_t kFirst = sizeof(T) >= 1024 ? 1 : 1024 / sizeof(T) < 4 ? 1024 / sizeof(T) : 4;
  if (v.size() == v.capacity() && v.capacity() < kFirst) v.reserve(kFirst);
  return v.emplace_back();
}

// Fills `out`, an empty Sourced: its value is constructed in place (no assignment into
// an empty string, std::string's general replace path) and its source packed where it
// lives. noexcept: if an allocation fails the process ends rather than leave `out`'s
// value destroyed.
struct PathParts {
  std::string_view segment;
  int occurrence, field, rep, component, sub;
};
void emplaceSourced(Sourced& out, std::string&& value, const PathParts& p) noexcept {
  out.value = std::move(value);
  out.source.setHl7(p.segment, p.occurrence, p.field, p.rep, p.component, p.sub);
}

// Reads values of one segment occurrence, each with its path as source
// (`DG1[2]-3.1`, the syntax of hl7v2::Path). Works on the segment's own field
// views: the repetition last read is split into components once (reads of
// XPN/XAD/CWE parts come one after another), so a read costs an index and, only
// when needed, a sub-component split and an unescape.
class SegmentReader {
 public:
  // `kept` is the record's copy of msg.raw() (TextBuffer::keep): values read as sent
  // view it.
  SegmentReader(const Message& msg, std::string_view kept, hl7v2::Segment seg, std::string_view id, int occurrence)
      : seg_(seg), delims_(msg.delimiters()), raw_begin_(msg.raw().data()), raw_size_(msg.raw().size()),
        kept_(kept.data()) {
    std::memcpy(prefix_, id.data(), 3);
    char* p = prefix_ + 3;
    if (occurrence != 1) {
      *p++ = '[';
      p = putNumber(p, occurrence);
      *p++ = ']';
    }
    prefix_size_ = static_cast<size_t>(p - prefix_);
    id_ = id;
    occurrence_ = occurrence;
    is_msh_ = segmentTag(id) == segmentTag("MSH");  // id is three characters; == on a string_view is an out-of-line compare
    latin1_ = msg.charset() == hl7v2::Charset::kLatin1;
    // One scan of the segment tells whether any value of it can need unescaping.
    // MSH-1 and MSH-2 hold the delimiters themselves and are read as they are (raw()),
    // so MSH is scanned from MSH-3 on: otherwise every MSH value would be looked at for
    // escapes and every MSH field split for repetitions.
    std::string_view scanned = seg.raw();
    if (is_msh_) {
      const std::string_view msh2 = seg.field(2);
      const char* const from = msh2.data() + msh2.size();
      if (msh2.data() != nullptr && from >= scanned.data() && from <= scanned.data() + scanned.size())
        scanned = std::string_view(from, static_cast<size_t>(scanned.data() + scanned.size() - from));
    }
    may_escape_ = delims_.escape != '\0' && scanned.find(delims_.escape) != std::string_view::npos;
    // And whether any field of it repeats: most segments have no repetition separator at
    // all, and then a field is its own first repetition without a scan for one.
    may_repeat_ = scanned.find(delims_.repetition) != std::string_view::npos;
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
    if (!latin1_ && !(may_escape_ && needsDecoding(r, delims_))) [[likely]] {
      // The same bytes in the record's copy of the message. Values come from the
      // message's fields; the check keeps anything else (none known) safe.
      const size_t at = static_cast<size_t>(r.data() - raw_begin_);
      if (r.data() >= raw_begin_ && at <= raw_size_ && r.size() <= raw_size_ - at) [[likely]] {
        out.value.borrow(std::string_view(kept_ + at, r.size()));
        out.source.setHl7(id_, occurrence_, field, rep, component, sub);
        return;
      }
    }
    readCopy(out, r, field, rep, component, sub);
  }

  // read()'s less common case, out of line so that read() stays small: a value that is
  // unescaped or converted from Latin-1, or (none known) not in the message's bytes.
  [[gnu::noinline]] void readCopy(Sourced& out, std::string_view r, int field, int rep, int component, int sub) const {
    const PathParts path{id_, occurrence_, field, rep, component, sub};
    const bool escaped = may_escape_ && needsDecoding(r, delims_);
    if (!latin1_ && !escaped) {
      emplaceSourced(out, std::string(r), path);
      return;
    }
    std::string value = escaped ? hl7v2::decode(r, delims_) : std::string(r);
    if (latin1_) {
      std::string utf8;
      hl7v2::appendLatin1AsUtf8(value, utf8);
      value.swap(utf8);
    }
    if (value.empty()) return;
    emplaceSourced(out, std::move(value), path);
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
  // Number of repetitions of a field (0 when empty), counted on the raw field: a
  // repetition may be empty in the middle.
  int repetitions(int field) const {
    std::string_view raw = seg_.field(field);
    if (raw.empty()) return 0;
    if (!may_repeat_) return 1;
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
    else if (component <= split_count_) v = components_[component - 1].view();
    else if (split_count_ == kMaxComponents) v = nthPart(split_rep_text_, delims_.component, component);
    if (sub > 0 && !v.empty()) v = nthPart(v, delims_.subcomponent, sub);
    return v;
  }

  void split(int field, int rep) const {
    split_field_ = field;
    split_rep_ = rep;
    std::string_view f = seg_.field(field);
    if (!may_repeat_) split_rep_text_ = rep == 1 ? f : std::string_view();  // a field is its only repetition
    else split_rep_text_ = f.empty() ? f : nthPart(f, delims_.repetition, rep);
    split_count_ = 0;
    const std::string_view t = split_rep_text_;
    if (t.empty()) return;
    const char delim = delims_.component;
    size_t begin = 0;
    size_t i = 0;
#if defined(__SSE2__)
    // Sixteen bytes per step: each set bit of the mask is a delimiter.
    const __m128i d = _mm_set1_epi8(delim);
    for (; i + 16 <= t.size(); i += 16) {
      unsigned mask = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t.data() + i)), d)));
      while (mask != 0) {
        const size_t at = i + static_cast<size_t>(__builtin_ctz(mask));
        mask &= mask - 1;
        components_[split_count_++] = {t.data() + begin, at - begin};
        begin = at + 1;
        if (split_count_ == kMaxComponents) return;  // later ones: nthPart
      }
    }
#endif
    for (; i < t.size(); ++i) {
      if (t[i] != delim) continue;
      components_[split_count_++] = {t.data() + begin, i - begin};
      begin = i + 1;
      if (split_count_ == kMaxComponents) return;  // later ones: nthPart
    }
    components_[split_count_++] = {t.data() + begin, t.size() - begin};
  }

  hl7v2::Segment seg_;
  const hl7v2::Delimiters& delims_;
  const char* raw_begin_;  // the message's bytes
  size_t raw_size_;
  const char* kept_;       // the record's copy of them
  char prefix_[16];  // "DG1" or "DG1[2]": prefix_size_ bytes are set
  std::string_view id_;   // "DG1"
  int occurrence_ = 1;
  size_t prefix_size_ = 0;
  bool is_msh_ = false;
  bool latin1_ = false;
  bool may_escape_ = false;  // the segment holds the escape character somewhere
  bool may_repeat_ = false;  // the segment holds the repetition separator somewhere
  // The repetition last split (reads of one field's parts come together).
  mutable int split_field_ = -1;
  mutable int split_rep_ = -1;
  mutable int split_count_ = 0;
  mutable std::string_view split_rep_text_;
  // A component's bytes as a plain pair, so that the array is left uninitialised when a
  // reader is made (a reader per segment; only the first split_count_ are ever read).
  struct Part {
    const char* data;
    size_t size;
    std::string_view view() const { return {data, size}; }
  };
  mutable Part components_[kMaxComponents];
};

// Appends the value to `list` when it is not empty.
void readInto(const SegmentReader& r, std::vector<Sourced>& list, int field, int rep, int component = 0,
              int sub = 0) {
  if (r.raw(field, rep, component, sub).empty()) return;
  Sourced& v = append(list);
  r.read(v, field, rep, component, sub);
  if (v.empty()) list.pop_back();
}

void readIdentifiers(const SegmentReader& r, int field, std::string_view default_type,
                     std::vector<Identifier>& out) {
  int reps = r.repetitions(field);
  for (int i = 1; i <= reps; ++i) {
    if (r.raw(field, i, 1).empty()) continue;
    Identifier& id = append(out);
    r.read(id.value, field, i, 1);
    if (id.value.empty()) {
      out.pop_back();
      continue;
    }
    r.read(id.type, field, i, 5);
    if (id.type.empty() && !default_type.empty()) {
      id.type.value = std::string(default_type);
      id.type.source = id.value.source;
    }
    r.read(id.assigning_authority, field, i, 4, 1);
    if (id.assigning_authority.empty()) r.read(id.assigning_authority, field, i, 4, 2);
    if (id.assigning_authority.empty()) r.read(id.assigning_authority, field, i, 4);
  }
}

// Reads an XPN name (family, given, middle, suffix, prefix, use) at `field`, repetition
// `rep` into `name`, which must be empty.
void readName(const SegmentReader& r, int field, int rep, Name& name) {
  r.readSubOrComponent(name.family, field, rep, 1);
  readInto(r, name.given, field, rep, 2);
  readInto(r, name.given, field, rep, 3);
  r.read(name.suffix, field, rep, 4);
  r.read(name.prefix, field, rep, 5);
  r.read(name.use, field, rep, 7);
}

// Reads XAD repetition `rep` of `field` into `out` when it has any part.
void readAddress(const SegmentReader& r, int field, int rep, std::vector<Address>& out) {
  if (r.raw(field, rep).empty()) return;
  Address& a = append(out);
  if (!r.raw(field, rep, 1).empty()) {
    Sourced& street = append(a.lines);
    r.readSubOrComponent(street, field, rep, 1);
    if (street.empty()) a.lines.pop_back();
  }
  readInto(r, a.lines, field, rep, 2);
  r.read(a.city, field, rep, 3);
  r.read(a.state, field, rep, 4);
  r.read(a.postal_code, field, rep, 5);
  r.read(a.country, field, rep, 6);
  r.read(a.use, field, rep, 7);
  if (a.lines.empty() && a.city.empty() && a.state.empty() && a.postal_code.empty()) out.pop_back();
}

// Every XTN repetition of `field`; `default_use` applies when XTN-2 is empty (work phones).
void readTelecoms(const SegmentReader& r, int field, std::string_view default_use, std::vector<Telecom>& out) {
  for (int i = 1, n = r.repetitions(field); i <= n; ++i) {
    if (r.raw(field, i).empty()) continue;
    Telecom& t = append(out);
    r.read(t.use, field, i, 2);
    r.read(t.equipment, field, i, 3);
    r.read(t.value, field, i, 4);  // an email address
    if (t.value.empty()) {
      Sourced local = r.get(field, i, 7);
      if (!local.empty()) {
        Sourced area = r.get(field, i, 6);
        t.value.source = std::move(local.source);
        t.value.value = area.empty() ? std::move(local.value) : Text("(" + area.value + ")" + local.value);
      } else {
        r.read(t.value, field, i, 1);
      }
    }
    if (t.value.empty()) {
      out.pop_back();
      continue;
    }
    if (t.use.empty() && !default_use.empty()) t.use = {std::string(default_use), t.value.source};
  }
}

// A single-valued identifier (`field`.1) with a fixed type, when present.
void readTypedIdentifier(const SegmentReader& r, int field, std::string_view type, std::vector<Identifier>& out) {
  if (r.raw(field, 1, 1).empty()) return;
  Identifier& id = append(out);
  r.read(id.value, field, 1, 1);
  if (id.value.empty()) {
    out.pop_back();
    return;
  }
  id.type = {std::string(type), id.value.source};
}

void readPatient(const SegmentReader& r, Patient& p) {
  p.source_segment = r.name();
  readIdentifiers(r, 3, "", p.identifiers);
  readIdentifiers(r, 2, "", p.identifiers);
  readIdentifiers(r, 4, "", p.identifiers);
  if (!r.raw(19).empty()) {
    Identifier& ssn = append(p.identifiers);
    r.read(ssn.value, 19);
    if (ssn.value.empty()) p.identifiers.pop_back();
    else ssn.type = {"SS", ssn.value.source};
  }
  if (!r.raw(20, 1, 1).empty()) {
    Identifier& dl = append(p.identifiers);
    r.read(dl.value, 20, 1, 1);
    if (dl.value.empty()) {
      p.identifiers.pop_back();
    } else {
      dl.type = {"DL", dl.value.source};
      r.read(dl.assigning_authority, 20, 1, 2);
    }
  }
  for (int i = 1, n = r.repetitions(5); i <= n; ++i) {
    Name& name = append(p.names);
    readName(r, 5, i, name);
    if (name.family.empty() && name.given.empty()) p.names.pop_back();
  }
  r.read(p.birth_date, 7, 1, 1);
  r.read(p.sex, 8, 1, 1);
  for (int i = 1, n = r.repetitions(11); i <= n; ++i) readAddress(r, 11, i, p.addresses);
  readTelecoms(r, 13, "", p.telecoms);
  readTelecoms(r, 14, "WPN", p.telecoms);
  r.read(p.death_time, 29, 1, 1);
  r.read(p.deceased, 30);
}

void readEncounter(const SegmentReader& r, Encounter& e) {
  e.source_segment = r.name();
  r.read(e.patient_class, 2, 1, 1);
  r.read(e.location_point_of_care, 3, 1, 1);
  r.read(e.location_room, 3, 1, 2);
  r.read(e.location_bed, 3, 1, 3);
  r.readSubOrComponent(e.location_facility, 3, 1, 4);
  r.read(e.admission_type, 4, 1, 1);
  r.readPractitioner(e.attending, 7);
  r.read(e.hospital_service, 10, 1, 1);
  r.read(e.visit_number, 19, 1, 1);
  r.read(e.discharge_disposition, 36, 1, 1);
  r.read(e.admit_time, 44, 1, 1);
  r.read(e.discharge_time, 45, 1, 1);
}

void readDiagnosis(const SegmentReader& r, CanonicalRecord& rec) {
  Diagnosis& d = append(rec.diagnoses);
  r.readCode(d.code, 3);
  if (d.code.system.empty()) r.read(d.code.system, 2);  // DG1-2, coding method (old versions)
  r.read(d.text, 4);
  if (d.code.empty() && d.text.empty()) {
    rec.diagnoses.pop_back();
    return;
  }
  d.source_segment = r.name();
  r.read(d.time, 5, 1, 1);
  r.read(d.type, 6, 1, 1);
  r.read(d.rank, 15);
  r.read(d.present_on_admission, 26, 1, 1);
}

void readProcedure(const SegmentReader& r, CanonicalRecord& rec) {
  Procedure& p = append(rec.procedures);
  r.readCode(p.code, 3);
  if (p.code.system.empty()) r.read(p.code.system, 2);
  r.read(p.text, 4);
  if (p.code.empty() && p.text.empty()) {
    rec.procedures.pop_back();
    return;
  }
  p.source_segment = r.name();
  r.read(p.time, 5, 1, 1);
  r.readPractitioner(p.performer, 11);
  if (p.performer.id.empty() && p.performer.family.empty()) p.performer = r.practitioner(12);
}

void readOrder(const SegmentReader& r, CanonicalRecord& rec, const Sourced& orc_status) {
  Order& o = append(rec.orders);
  o.source_segment = r.name();
  r.read(o.placer_number, 2, 1, 1);
  r.read(o.filler_number, 3, 1, 1);
  r.readCode(o.service, 4);
  r.read(o.time, 7, 1, 1);
  r.read(o.status, 25);
  if (o.status.empty()) o.status = orc_status;
}

// OBX-5 repetitions 2..n of a value that is not text (text joins its lines above):
// each is a value of its own, read the way the first one is.
void readRepeatedValues(const SegmentReader& r, std::string_view type, Observation& o) {
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
  Observation& o = append(rec.observations);
  o.source_segment = r.name();
  r.readCode(o.code, 3);
  r.read(o.value_type, 2);
  std::string_view type = o.value_type.value;
  if (type == "CE" || type == "CWE" || type == "CNE") {
    r.readCode(o.coded_value, 5);
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
  } else if (type == "NM" || type == "TS" || type == "DT" || type == "DTM") {
    r.read(o.value, 5, 1, 1);
  } else {
    r.read(o.value, 5);
  }
  readRepeatedValues(r, type, o);
  r.readCode(o.units, 6);
  r.read(o.reference_range, 7);
  r.read(o.abnormal_flag, 8, 1, 1);
  r.read(o.status, 11);
  r.read(o.effective_time, 14, 1, 1);
  if (o.code.empty() && o.value.empty()) {
    rec.observations.pop_back();
    return;
  }
  const size_t orders = rec.orders.size();
  if (orders > 0) {
    o.order_index = static_cast<int>(orders);
    if (o.effective_time.empty()) o.effective_time = rec.orders.back().time;
  }
}

void readCharge(const SegmentReader& r, CanonicalRecord& rec) {
  Charge& c = append(rec.charges);
  c.source_segment = r.name();
  r.read(c.transaction_date, 4, 1, 1);
  r.read(c.transaction_type, 6);
  r.readCode(c.chargemaster, 7);
  r.read(c.quantity, 10);
  r.readSubOrComponent(c.amount, 11, 1, 1);
  if (c.amount.empty()) r.readSubOrComponent(c.amount, 12, 1, 1);
  for (int i = 1, n = r.repetitions(19); i <= n; ++i) {
    Code d = r.code(19, i);
    if (!d.empty()) c.diagnoses.push_back(std::move(d));
  }
  r.readCode(c.hcpcs, 25);
  for (int i = 1, n = r.repetitions(26); i <= n; ++i) readInto(r, c.modifiers, 26, i, 1);
}

void readImmunization(const SegmentReader& r, CanonicalRecord& rec) {
  Immunization& im = append(rec.immunizations);
  im.source_segment = r.name();
  r.read(im.time, 3, 1, 1);
  r.readCode(im.vaccine, 5);
  r.read(im.dose, 6);
  r.read(im.dose_units, 7, 1, 1);
  r.read(im.lot, 15);
  r.read(im.expiration, 16, 1, 1);
  r.readCode(im.manufacturer, 17);
  r.read(im.completion_status, 20);
}

void readRoute(const SegmentReader& r, CanonicalRecord& rec) {
  if (rec.immunizations.empty()) return;
  rec.immunizations.back().route = r.code(1);
  rec.immunizations.back().site = r.code(2);
}

void readCoverage(const SegmentReader& r, CanonicalRecord& rec) {
  Coverage& c = append(rec.coverages);
  c.source_segment = r.name();
  r.readCode(c.plan, 2);
  r.read(c.payer_id, 3, 1, 1);
  r.read(c.payer_name, 4, 1, 1);
  if (c.payer_name.empty()) r.read(c.payer_name, 4);
  r.read(c.group_number, 8);
  r.read(c.start, 12);
  r.read(c.end, 13);
  r.readSubOrComponent(c.subscriber_name, 16, 1, 1);
  r.read(c.relationship, 17, 1, 1);
  r.read(c.member_id, 36);
  if (c.member_id.empty()) r.read(c.member_id, 49, 1, 1);
}

void readAppointment(const SegmentReader& r, CanonicalRecord& rec) {
  Appointment& a = append(rec.appointments);
  a.source_segment = r.name();
  r.read(a.placer_id, 1, 1, 1);
  r.read(a.filler_id, 2, 1, 1);
  r.readCode(a.reason, 7);
  r.read(a.start, 11, 1, 4);
  r.read(a.end, 11, 1, 5);
  r.read(a.status, 25, 1, 1);
}

void readDocument(const SegmentReader& r, CanonicalRecord& rec) {
  Document& d = append(rec.documents);
  d.source_segment = r.name();
  r.read(d.type, 2, 1, 1);
  r.read(d.time, 4, 1, 1);
  r.read(d.unique_id, 12, 1, 1);
  r.read(d.status, 17);
}

// NK1: next of kin / associated party.
void readContact(const SegmentReader& r, CanonicalRecord& rec) {
  Contact& c = append(rec.contacts);
  readName(r, 2, 1, c.name);
  r.readCode(c.relationship, 3);
  r.read(c.organization, 13, 1, 1);
  if (c.empty()) {
    rec.contacts.pop_back();
    return;
  }
  c.source_segment = r.name();
  for (int i = 1, n = r.repetitions(4); i <= n; ++i) readAddress(r, 4, i, c.addresses);
  readTelecoms(r, 5, "", c.telecoms);
  readTelecoms(r, 6, "WPN", c.telecoms);
  r.read(c.role, 7, 1, 1);
  r.read(c.start, 8, 1, 1);
  r.read(c.end, 9, 1, 1);
  r.read(c.sex, 15, 1, 1);
  r.read(c.birth_date, 16, 1, 1);
}

// AL1: one allergy.
void readAllergy(const SegmentReader& r, CanonicalRecord& rec) {
  Allergy& a = append(rec.allergies);
  r.readCode(a.allergen, 3);
  if (a.allergen.empty()) {
    rec.allergies.pop_back();
    return;
  }
  a.source_segment = r.name();
  r.read(a.type, 2, 1, 1);
  r.read(a.severity, 4, 1, 1);
  for (int i = 1, n = r.repetitions(5); i <= n; ++i) readInto(r, a.reactions, 5, i);
  r.read(a.onset, 6, 1, 1);
}

bool isSelf(std::string_view relationship) {
  return relationship == "SEL" || relationship == "18" || relationship == "01";
}

// GT1: the guarantor.
void readGuarantor(const SegmentReader& r, CanonicalRecord& rec) {
  Guarantor& g = append(rec.guarantors);
  std::vector<Identifier> numbers;
  readIdentifiers(r, 2, "", numbers);
  if (!numbers.empty()) g.number = std::move(numbers.front());
  readName(r, 3, 1, g.person.name);
  r.readCode(g.person.relationship, 11);
  r.readSubOrComponent(g.person.organization, 16, 1, 1);
  if (g.person.empty() && g.number.value.empty()) {
    rec.guarantors.pop_back();
    return;
  }
  g.source_segment = r.name();
  g.person.source_segment = g.source_segment;
  readAddress(r, 5, 1, g.person.addresses);
  readTelecoms(r, 6, "", g.person.telecoms);
  readTelecoms(r, 7, "WPN", g.person.telecoms);
  r.read(g.person.birth_date, 8, 1, 1);
  r.read(g.person.sex, 9, 1, 1);
  r.read(g.type, 10, 1, 1);
  r.read(g.person.start, 13, 1, 1);
  r.read(g.person.end, 14, 1, 1);
  g.is_patient = isSelf(g.person.relationship.code.value);
}

// Patient identifiers carried outside PID, as the HL7 v2-to-FHIR mapping places
// them on Patient.identifier: IN2-6 Medicare, IN2-8 Medicaid, IN2-10 military id,
// IN2-61 member number (CX), DB1-3 disabled person id (CX).
void readExtraPatientIdentifiers(const SegmentReader& r, std::string_view id, Patient& p) {
  if (id == "IN2") {
    readTypedIdentifier(r, 6, "MC", p.identifiers);
    readTypedIdentifier(r, 8, "MA", p.identifiers);
    readTypedIdentifier(r, 10, "MI", p.identifiers);
    readIdentifiers(r, 61, "MB", p.identifiers);
  } else if (id == "DB1") {
    readIdentifiers(r, 3, "", p.identifiers);
  }
}

}  // namespace

Result<CanonicalRecord> fromHl7v2(const Message& msg) {
  // One Result, returned by name on every path: the record is built where the caller
  // receives it and never moved (moving a CanonicalRecord moves a few hundred strings).
  Result<CanonicalRecord> out;
  if (msg.segmentCount() == 0) {
    out = Unexpected(Error(ErrorCode::kParse, "message has no MSH segment", "MSH"));
    return out;
  }
  CanonicalRecord& rec = *out;
  const std::string_view kept = rec.text.keep(msg.raw());
  SegmentReader msh(msg, kept, msg.segment(0), "MSH", 1);
  msh.read(rec.message_type, 9, 1, 1);
  if (rec.message_type.empty()) {
    out = Unexpected(Error(ErrorCode::kParse, "message type is missing", "MSH-9"));
    return out;
  }
  msh.read(rec.trigger, 9, 1, 2);
  msh.read(rec.message_id, 10);
  msh.read(rec.sent_time, 7, 1, 1);
  msh.read(rec.sending_application, 3, 1, 1);
  msh.read(rec.sending_facility, 4, 1, 1);
  if (rec.message_id.empty()) {
    fhir::Hash128 h = fhir::hash128(msg.raw());
    rec.content_hash = std::to_string(h.hi) + "-" + std::to_string(h.lo);
  }

  const bool is_document = rec.message_type.value == "MDM";
  // Occurrence number of each segment id seen so far (a message has few distinct ids).
  int counts[64] = {};
  uint32_t ids[64] = {};
  int used = 0;
  auto occurrence = [&](uint32_t id) {
    for (int i = 0; i < used; ++i)
      if (ids[i] == id) return ++counts[i];
    if (used == 64) return 0;
    ids[used] = id;
    counts[used] = 1;
    return counts[used++];
  };

  Sourced orc_status;
  for (size_t s = 0; s < msg.segmentCount(); ++s) {
    hl7v2::Segment segment = msg.segment(s);
    std::string_view id = segment.name();
    if (id.size() != 3) continue;
    const uint32_t tag = segmentTag(id);
    int occ = occurrence(tag);
    if (occ == 0) continue;
    if (tag == segmentTag("MSH")) continue;
    SegmentReader r(msg, kept, segment, id, occ);
    switch (tag) {
    case segmentTag("PID"):
      if (!rec.has_patient) {  // the first patient is the subject (A17 swaps carry two)
        rec.has_patient = true;
        readPatient(r, rec.patient);
      }
      break;
    case segmentTag("PV1"):
      if (!rec.has_encounter) {
        rec.has_encounter = true;
        readEncounter(r, rec.encounter);
      }
      break;
    case segmentTag("PV2"):
      if (rec.has_encounter && rec.encounter.reason.empty()) {
        r.read(rec.encounter.reason, 3, 1, 2);
        if (rec.encounter.reason.empty()) r.read(rec.encounter.reason, 3, 1, 1);
      }
      break;
    case segmentTag("DG1"): readDiagnosis(r, rec); break;
    case segmentTag("PR1"): readProcedure(r, rec); break;
    case segmentTag("ORC"): orc_status = r.get(5); break;
    case segmentTag("OBR"):
      readOrder(r, rec, orc_status);
      orc_status = {};
      break;
    case segmentTag("OBX"):
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
      break;
    case segmentTag("FT1"): readCharge(r, rec); break;
    case segmentTag("RXA"): readImmunization(r, rec); break;
    case segmentTag("RXR"): readRoute(r, rec); break;
    case segmentTag("IN1"): readCoverage(r, rec); break;
    case segmentTag("SCH"): readAppointment(r, rec); break;
    case segmentTag("AIS"):
      if (!rec.appointments.empty() && rec.appointments.back().start.empty())
        r.read(rec.appointments.back().start, 4, 1, 1);
      break;
    case segmentTag("TXA"): readDocument(r, rec); break;
    case segmentTag("IN2"):
    case segmentTag("DB1"):
      if (rec.has_patient) readExtraPatientIdentifiers(r, id, rec.patient);
      break;
    case segmentTag("NK1"): readContact(r, rec); break;
    case segmentTag("AL1"): readAllergy(r, rec); break;
    case segmentTag("GT1"): readGuarantor(r, rec); break;
    case segmentTag("MRG"): readIdentifiers(r, 1, "", rec.merged_identifiers); break;
    default: break;
    }
  }
  if (!rec.has_patient)
    out = Unexpected(Error(ErrorCode::kParse, "message has no patient (PID segment) to convert", "PID"));
  return out;
}

}  // namespace courier::record
