#include "engine/record/to_fhir.h"

#include <array>
#include <cassert>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/fhir/ids.h"
#include "engine/fhir/direct_writer.h"
#include "engine/fhir/json.h"

namespace courier::record {
namespace {

using fhir::DirectJsonWriter;
using fhir::writeField;
using fhir::writeKey;
using fhir::writeReference;
using fhir::writeString;

// HL7 v2 table code systems, spelled out (no concatenation per coding).
constexpr std::string_view kV2Table0004 = "http://terminology.hl7.org/CodeSystem/v2-0004";
constexpr std::string_view kV2Table0063 = "http://terminology.hl7.org/CodeSystem/v2-0063";
constexpr std::string_view kV2Table0069 = "http://terminology.hl7.org/CodeSystem/v2-0069";
constexpr std::string_view kV2Table0112 = "http://terminology.hl7.org/CodeSystem/v2-0112";
constexpr std::string_view kV2Table0131 = "http://terminology.hl7.org/CodeSystem/v2-0131";

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

int num(std::string_view s) {
  int n = 0;
  for (char c : s) n = n * 10 + (c - '0');
  return n;
}

// The number two decimal digits at p make.
int twoDigits(const char* p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

bool looksLikeOid(std::string_view s) {
  if (s.size() < 3 || s.find('.') == std::string_view::npos) return false;
  for (char c : s)
    if ((c < '0' || c > '9') && c != '.') return false;
  return s.front() != '.' && s.back() != '.';
}

// An absolute http(s) or urn: URI, usable as Identifier.system.
bool isUri(std::string_view s) {
  if (s.rfind("http://", 0) != 0 && s.rfind("https://", 0) != 0 && s.rfind("urn:", 0) != 0) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= ' ') return false;
  return true;
}

struct ParsedDtm {
  std::string_view digits;    // up to 14 digits
  std::string_view fraction;  // digits after '.', may be empty
  std::string_view offset;    // "+HHMM" / "-HHMM" or empty
  bool ok = false;
};

ParsedDtm parseDtm(std::string_view v) {
  ParsedDtm p;
  size_t i = 0;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
  p.digits = std::string_view(v.data(), i);
  if (i < v.size() && v[i] == '.') {
    size_t start = ++i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    p.fraction = std::string_view(v.data() + start, i - start);
  }
  if (i < v.size() && (v[i] == '+' || v[i] == '-')) {
    p.offset = std::string_view(v.data() + i, v.size() - i < 5 ? v.size() - i : 5);
    if (p.offset.size() != 5 || !allDigits(std::string_view(p.offset.data() + 1, 4))) return p;
    i += 5;
  }
  if (i != v.size()) return p;
  size_t n = p.digits.size();
  if (n != 4 && n != 6 && n != 8 && n != 10 && n != 12 && n != 14) return p;
  // Every byte read below is a digit (checked above): two at a time, without substr's
  // bounds checks (this runs for every time a Bundle holds).
  const char* d = p.digits.data();
  const int year = twoDigits(d) * 100 + twoDigits(d + 2);
  if (year < 1) return p;
  if (n >= 6) {
    const int month = twoDigits(d + 4);
    if (month < 1 || month > 12) return p;
  }
  if (n >= 8) {
    const int day = twoDigits(d + 6);
    if (day < 1 || day > 31) return p;
  }
  if (n >= 10 && twoDigits(d + 8) > 23) return p;
  if (n >= 12 && twoDigits(d + 10) > 59) return p;
  if (n >= 14 && twoDigits(d + 12) > 59) return p;
  if (!p.offset.empty()) {
    const int hh = twoDigits(p.offset.data() + 1);
    const int mm = twoDigits(p.offset.data() + 3);
    if (hh > 14 || mm > 59 || (hh == 14 && mm != 0)) return p;
  }
  p.ok = true;
  return p;
}

// Writes YYYY[-MM[-DD]] (the parts `digits` has, at least the year) at p; returns the end.
char* putDate(char* p, std::string_view digits) {
  std::memcpy(p, digits.data(), 4);
  p += 4;
  for (size_t at = 4; at <= 6 && digits.size() >= at + 2; at += 2) {
    *p++ = '-';
    *p++ = digits[at];
    *p++ = digits[at + 1];
  }
  return p;
}

// YYYY-MM-DDThh:mm:ss[.fff]+hh:mm at p, for at least 10 digits and an offset; returns the end.
char* putWithTime(char* p, const ParsedDtm& t) {
  const std::string_view d = t.digits;
  p = putDate(p, d);
  *p++ = 'T';
  for (size_t at = 8; at <= 12; at += 2) {
    if (at > 8) *p++ = ':';
    *p++ = d.size() >= at + 2 ? d[at] : '0';
    *p++ = d.size() >= at + 2 ? d[at + 1] : '0';
  }
  if (!t.fraction.empty() && d.size() == 14) {
    *p++ = '.';
    std::memcpy(p, t.fraction.data(), t.fraction.size());
    p += t.fraction.size();
  }
  const std::string_view o = t.offset;
  *p++ = o[0];
  *p++ = o[1];
  *p++ = o[2];
  *p++ = ':';
  *p++ = o[3];
  *p++ = o[4];
  return p;
}

// What an HL7 DTM becomes in FHIR: a date (YYYY[-MM[-DD]]), a time with its offset, or
// nothing (malformed, or an instant without a time and an offset). Written by putFhirTime
// straight into the Bundle (only digits, '-', 'T', ':', '.', '+': no escapes), so no
// std::string per time (a dateTime is longer than its small buffer).
struct FhirTime {
  ParsedDtm parsed;
  bool ok = false;
  bool with_time = false;
  size_t maxSize() const { return 26 + parsed.fraction.size(); }
};

FhirTime fhirDate(std::string_view dtm) {
  FhirTime t;
  t.parsed = parseDtm(dtm);
  t.ok = t.parsed.ok;
  return t;
}

FhirTime fhirDateTime(std::string_view dtm) {
  FhirTime t = fhirDate(dtm);
  t.with_time = t.ok && t.parsed.digits.size() >= 10 && !t.parsed.offset.empty();
  return t;
}

FhirTime fhirInstant(std::string_view dtm) {
  FhirTime t = fhirDateTime(dtm);
  t.ok = t.with_time;
  return t;
}

char* putFhirTime(char* p, const FhirTime& t) {
  return t.with_time ? putWithTime(p, t.parsed) : putDate(p, t.parsed.digits);
}

std::string toString(const FhirTime& t) {
  if (!t.ok) return {};
  std::string out(t.maxSize(), '\0');
  out.resize(static_cast<size_t>(putFhirTime(out.data(), t) - out.data()));
  return out;
}

// FHIR code values: no leading/trailing whitespace, single inner spaces.
bool validCode(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\t') return false;
    if (c == ' ' && i + 1 < s.size() && s[i + 1] == ' ') return false;
  }
  return true;
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Writes one Bundle; ids are derived from `seed_` plus a resource-specific key.
class BundleWriter {
 public:
  // `buf` is reused from Bundle to Bundle (cleared here), so its capacity stays.
  BundleWriter(const CanonicalRecord& rec, fhir::JsonBuffer& buf) : rec_(rec), buf_(buf), w_(buf_) {
    buf_.clear();
    // The message's identity is hashed once; each id continues from a copy.
    seed_.add(rec.sending_facility.value).add("|").add(rec.sending_application.value);
    seed_.add("|").add(rec.message_id.value).add("|").add(rec.sent_time.value).add("|");
    if (!rec.content_hash.empty()) seed_.add(rec.content_hash).add("|");
  }

  std::string run();

 private:
  // The id of the `type` resource made from `key` (+ `suffix`): the UUID of
  // seed|type|key+suffix, formatted without an allocation.
  fhir::Uuid idFor(std::string_view type, std::string_view key, std::string_view suffix = {}) {
    return fhir::uuidOf(fhir::Hasher(seed_).add(type).add("|").add(key).add(suffix));
  }

  void beginEntry(std::string_view type, std::string_view id) {
    w_.startObject();
    writeKey(w_, "fullUrl");
    w_.urnUuid(id);
    writeKey(w_, "resource");
    w_.startObject();
    w_.keyAndPlain("resourceType", type);  // both Courier's own text: no escapes to look for
    if (!id.empty()) w_.keyAndPlain("id", id);
  }
  void endEntry() {
    w_.endObject();
    w_.endObject();
  }

  // "key":"value" for a value Courier writes itself (a constant, a mapped code, a
  // FHIR time): copied without an escape scan; nothing when empty.
  [[gnu::always_inline]] void plain(std::string_view key, std::string_view value) {
    if (!value.empty()) w_.keyAndPlain(key, value);
  }
  // "key":"<FHIR time>" when t is one.
  void time(std::string_view key, const FhirTime& t) {
    if (!t.ok) return;
    w_.keyAndPlainWith(key, t.maxSize(), [&t](char* p) { return putFhirTime(p, t); });
  }
  // A coding with one of Courier's system URIs and a code from the record, which the
  // caller found valid (validCode: every caller tests it first, so it is not tested twice).
  void coding(std::string_view system, std::string_view code, std::string_view display = {}) {
    assert(validCode(code));
    w_.startObject();
    plain("system", system);
    writeField(w_, "code", code);
    writeField(w_, "display", display);
    w_.endObject();
  }
  // A coding that is Courier's own text throughout (system, code and display constants).
  void constCoding(std::string_view system, std::string_view code, std::string_view display = {}) {
    w_.startObject();
    plain("system", system);
    plain("code", code);
    plain("display", display);
    w_.endObject();
  }
  // The coding of a record's Code: its system is fhirSystemFor's URI for the HL7 name,
  // `fallback` when there is none, or (a record read from FHIR) the input's own URI,
  // which fhirSystemFor returns as it is and which is escaped like any input text.
  // The code is valid (validCode; the callers test it).
  void recordCoding(const Code& c, std::string_view fallback = {}) {
    assert(validCode(c.code.value));
    const std::string_view system = fhirSystemFor(c.system.value);
    w_.startObject();
    if (system.empty()) plain("system", fallback);
    else if (system.data() == c.system.value.data()) writeField(w_, "system", system);
    else plain("system", system);
    writeField(w_, "code", c.code.value);
    writeField(w_, "display", c.display.value);
    w_.endObject();
  }
  // {"coding": [{system, code}]} under key, for a v2 table code (`system` is the table's URI).
  void tableConcept(std::string_view key, std::string_view system, const Sourced& v) {
    if (!validCode(v.value)) return;
    writeKey(w_, key);
    w_.startObject();
    writeKey(w_, "coding");
    w_.startArray();
    coding(system, v.value);
    w_.endArray();
    w_.endObject();
  }
  bool writeConceptBody(const Code& c, std::string_view text = {}) {
    return writeConceptBody(c, text, validCode(c.code.value));
  }
  // has_code: validCode(c.code.value), when the caller knows it already.
  bool writeConceptBody(const Code& c, std::string_view text, bool has_code) {
    if (!has_code && c.display.empty() && text.empty()) return false;
    w_.startObject();
    if (has_code) {
      writeKey(w_, "coding");
      w_.startArray();
      recordCoding(c);
      w_.endArray();
    }
    if (!text.empty()) writeField(w_, "text", text);
    else if (!has_code) writeField(w_, "text", c.display.value);
    w_.endObject();
    return true;
  }
  void writeConcept(std::string_view key, const Code& c, std::string_view text = {}) {
    bool has_code = validCode(c.code.value);
    if (!has_code && c.display.empty() && text.empty()) return;
    writeKey(w_, key);
    writeConceptBody(c, text, has_code);
  }
  // "period": {start, end} when either is a valid time.
  void period(const Sourced& start, const Sourced& end) {
    const FhirTime from = fhirDateTime(start.value);
    const FhirTime to = fhirDateTime(end.value);
    if (!from.ok && !to.ok) return;
    writeKey(w_, "period");
    w_.startObject();
    time("start", from);
    time("end", to);
    w_.endObject();
  }
  void dateTime(std::string_view key, const Sourced& v) {
    time(key, fhirDateTime(v.value));
  }
  void decimal(std::string_view key, std::string_view v) {
    if (!fhir::isFhirDecimal(v)) return;
    writeKey(w_, key);
    w_.rawNumber(v);
  }
  void identifierWithType(std::string_view value, std::string_view type_code) {
    w_.startObject();
    if (!type_code.empty()) {
      writeKey(w_, "type");
      w_.startObject();
      writeKey(w_, "coding");
      w_.startArray();
      coding("http://terminology.hl7.org/CodeSystem/v2-0203", type_code);
      w_.endArray();
      w_.endObject();
    }
    writeField(w_, "value", value);
    w_.endObject();
  }

  void practitioner(const Practitioner& p, std::string_view id);
  void names(std::span<const Name> list);
  void telecoms(const std::vector<Telecom>& list);
  void addresses(const std::vector<Address>& list);
  void extensions(const std::vector<Extension>& list);
  void observationValue(const Observation& o, const Sourced& value, const Code& coded);
  void relatedPerson(const Contact& c, std::string_view id);
  void contacts();
  void allergies();
  void guarantors();
  void patient();
  void encounter();
  void conditions();
  void procedures();
  void orders();
  void observations();
  void charges();
  void immunizations();
  void coverages();
  void appointments();
  void documents();

  const CanonicalRecord& rec_;
  fhir::JsonBuffer& buf_;
  DirectJsonWriter w_;
  fhir::Hasher seed_;  // facility|application|control id|MSH-7|[content hash|]
  fhir::Uuid patient_id_;
  fhir::Uuid encounter_id_;
  std::vector<fhir::Uuid> condition_ids_;
  std::vector<fhir::Uuid> order_ids_;
};

bool hasPractitioner(const Practitioner& p) { return !p.id.empty() || !p.family.empty() || !p.given.empty(); }

void BundleWriter::practitioner(const Practitioner& p, std::string_view id) {
  beginEntry("Practitioner", id);
  if (!p.id.empty()) {
    writeKey(w_, "identifier");
    w_.startArray();
    identifierWithType(p.id.value, "");
    w_.endArray();
  }
  if (!p.family.empty() || !p.given.empty()) {
    writeKey(w_, "name");
    w_.startArray();
    w_.startObject();
    writeField(w_, "family", p.family.value);
    if (!p.given.empty()) {
      writeKey(w_, "given");
      w_.startArray();
      writeString(w_, p.given.value);
      w_.endArray();
    }
    w_.endObject();
    w_.endArray();
  }
  endEntry();
}

std::string_view nameUse(std::string_view v) {
  if (v == "L") return "official";
  if (v == "D" || v == "A") return "usual";
  if (v == "M") return "maiden";
  if (v == "N") return "nickname";
  if (v == "T") return "temp";
  if (v == "S") return "anonymous";
  return {};
}

std::string_view gender(std::string_view v) {
  if (v == "M") return "male";
  if (v == "F") return "female";
  if (v == "O" || v == "A") return "other";
  if (v == "U" || v == "N") return "unknown";
  return {};
}

void BundleWriter::names(std::span<const Name> list) {
  if (!list.empty()) {
    writeKey(w_, "name");
    w_.startArray();
    for (const Name& n : list) {
      w_.startObject();
      plain("use", nameUse(n.use.value));
      writeField(w_, "family", n.family.value);
      if (!n.given.empty()) {
        writeKey(w_, "given");
        w_.startArray();
        for (const Sourced& g : n.given) writeString(w_, g.value);
        w_.endArray();
      }
      if (!n.prefix.empty()) {
        writeKey(w_, "prefix");
        w_.startArray();
        writeString(w_, n.prefix.value);
        w_.endArray();
      }
      if (!n.suffix.empty()) {
        writeKey(w_, "suffix");
        w_.startArray();
        writeString(w_, n.suffix.value);
        w_.endArray();
      }
      w_.endObject();
    }
    w_.endArray();
  }
}

void BundleWriter::telecoms(const std::vector<Telecom>& list) {
  if (!list.empty()) {
    writeKey(w_, "telecom");
    w_.startArray();
    for (const Telecom& t : list) {
      const std::string_view eq = t.equipment.value;  // == on a view compares inline
      std::string_view system = "phone";
      if (eq == "Internet" || eq == "X.400" || t.value.value.find('@') != std::string::npos) system = "email";
      else if (eq == "FX") system = "fax";
      else if (eq == "BP") system = "pager";
      std::string_view use;
      if (eq == "CP") use = "mobile";
      else if (const std::string_view u = t.use.value; u == "PRN" || u == "ORN" || u == "VHN") use = "home";
      else if (u == "WPN") use = "work";
      w_.startObject();
      plain("system", system);
      writeField(w_, "value", t.value.value);
      plain("use", use);
      w_.endObject();
    }
    w_.endArray();
  }
}

void BundleWriter::addresses(const std::vector<Address>& list) {
  if (!list.empty()) {
    writeKey(w_, "address");
    w_.startArray();
    for (const Address& a : list) {
      const std::string_view u = a.use.value;
      w_.startObject();
      if (u == "H") plain("use", "home");
      else if (u == "B" || u == "O") plain("use", "work");
      else if (u == "C") plain("use", "temp");
      else if (u == "M") plain("type", "postal");
      if (!a.lines.empty()) {
        writeKey(w_, "line");
        w_.startArray();
        for (const Sourced& l : a.lines) writeString(w_, l.value);
        w_.endArray();
      }
      writeField(w_, "city", a.city.value);
      writeField(w_, "state", a.state.value);
      writeField(w_, "postalCode", a.postal_code.value);
      writeField(w_, "country", a.country.value);
      w_.endObject();
    }
    w_.endArray();
  }
}

void BundleWriter::extensions(const std::vector<Extension>& list) {
  if (list.empty()) return;
  writeKey(w_, "extension");
  w_.startArray();
  for (const Extension& e : list) {
    w_.startObject();
    writeField(w_, "url", e.url);
    writeField(w_, "valueString", e.value.value);
    w_.endObject();
  }
  w_.endArray();
}

void BundleWriter::patient() {
  const Patient& p = rec_.patient;
  beginEntry("Patient", patient_id_);
  extensions(p.extensions);
  if (!p.identifiers.empty()) {
    writeKey(w_, "identifier");
    w_.startArray();
    for (const Identifier& id : p.identifiers) {
      w_.startObject();
      if (validCode(id.type.value)) {
        writeKey(w_, "type");
        w_.startObject();
        writeKey(w_, "coding");
        w_.startArray();
        coding("http://terminology.hl7.org/CodeSystem/v2-0203", id.type.value);
        w_.endArray();
        w_.endObject();
      }
      if (looksLikeOid(id.assigning_authority.value))
        writeField(w_, "system", "urn:oid:" + id.assigning_authority.value);
      else if (isUri(id.assigning_authority.value))
        writeField(w_, "system", id.assigning_authority.value);
      writeField(w_, "value", id.value.value);
      if (!id.assigning_authority.empty()) {
        writeKey(w_, "assigner");
        w_.startObject();
        writeField(w_, "display", id.assigning_authority.value);
        w_.endObject();
      }
      w_.endObject();
    }
    w_.endArray();
  }
  names(p.names);
  telecoms(p.telecoms);
  plain("gender", gender(p.sex.value));
  time("birthDate", fhirDate(p.birth_date.value));
  const FhirTime death = fhirDateTime(p.death_time.value);
  if (death.ok) {
    time("deceasedDateTime", death);
  } else if (const std::string_view deceased = p.deceased.value; deceased == "Y" || deceased == "N") {
    writeKey(w_, "deceasedBoolean");
    w_.boolean(deceased == "Y");
  }
  addresses(p.addresses);
  if (!rec_.merged_identifiers.empty()) {
    writeKey(w_, "link");
    w_.startArray();
    for (const Identifier& id : rec_.merged_identifiers) {
      w_.startObject();
      writeKey(w_, "other");
      w_.startObject();
      writeKey(w_, "identifier");
      identifierWithType(id.value.value, validCode(id.type.value) ? std::string_view(id.type.value) : "");
      w_.endObject();
      plain("type", "replaces");
      w_.endObject();
    }
    w_.endArray();
  }
  endEntry();
}

std::string_view encounterClass(std::string_view v) {
  if (v == "I" || v == "B") return "IMP";
  if (v == "O" || v == "R" || v == "C") return "AMB";
  if (v == "E") return "EMER";
  if (v == "P") return "PRENC";
  return {};
}

std::string_view encounterStatus(const CanonicalRecord& rec) {
  std::string_view t = rec.trigger.value;
  if (t == "A11" || t == "A27" || t == "A38") return "cancelled";
  if (t == "A03" || !rec.encounter.discharge_time.empty()) return "finished";
  if (t == "A05" || t == "A14") return "planned";
  return "in-progress";
}

void BundleWriter::encounter() {
  const Encounter& e = rec_.encounter;
  fhir::Uuid attending_id;
  if (hasPractitioner(e.attending)) {
    attending_id = idFor("Practitioner", e.source_segment, "-7");
    practitioner(e.attending, attending_id);
  }
  beginEntry("Encounter", encounter_id_);
  extensions(e.extensions);
  if (!e.visit_number.empty()) {
    writeKey(w_, "identifier");
    w_.startArray();
    identifierWithType(e.visit_number.value, "VN");
    w_.endArray();
  }
  plain("status", encounterStatus(rec_));
  writeKey(w_, "class");
  std::string_view cls = encounterClass(e.patient_class.value);
  if (!cls.empty()) {
    constCoding("http://terminology.hl7.org/CodeSystem/v3-ActCode", cls);
  } else if (validCode(e.patient_class.value)) {
    coding(kV2Table0004, e.patient_class.value);
  } else {
    constCoding("http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "UNK");
  }
  tableConcept("serviceType", kV2Table0069, e.hospital_service);
  writeReference(w_, "subject", patient_id_);
  if (!attending_id.empty()) {
    writeKey(w_, "participant");
    w_.startArray();
    w_.startObject();
    writeKey(w_, "type");
    w_.startArray();
    w_.startObject();
    writeKey(w_, "coding");
    w_.startArray();
    constCoding("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "ATND", "attender");
    w_.endArray();
    w_.endObject();
    w_.endArray();
    writeReference(w_, "individual", attending_id);
    w_.endObject();
    w_.endArray();
  }
  period(e.admit_time, e.discharge_time);
  if (!e.reason.empty()) {
    writeKey(w_, "reasonCode");
    w_.startArray();
    w_.startObject();
    writeField(w_, "text", e.reason.value);
    w_.endObject();
    w_.endArray();
  }
  if (!rec_.diagnoses.empty()) {
    writeKey(w_, "diagnosis");
    w_.startArray();
    for (size_t i = 0; i < rec_.diagnoses.size(); ++i) {
      const Diagnosis& d = rec_.diagnoses[i];
      w_.startObject();
      writeReference(w_, "condition", condition_ids_[i]);
      const std::string_view type = d.type.value;
      std::string_view role = type == "A" ? "AD" : type == "F" ? "DD" : "";
      if (!role.empty()) {
        writeKey(w_, "use");
        w_.startObject();
        writeKey(w_, "coding");
        w_.startArray();
        constCoding("http://terminology.hl7.org/CodeSystem/diagnosis-role", role);
        w_.endArray();
        w_.endObject();
      }
      if (allDigits(d.rank.value) && d.rank.value.size() < 9 && num(d.rank.value) > 0) {
        writeKey(w_, "rank");
        w_.integer(num(d.rank.value));
      }
      w_.endObject();
    }
    w_.endArray();
  }
  if (!e.discharge_disposition.empty()) {
    writeKey(w_, "hospitalization");
    w_.startObject();
    tableConcept("dischargeDisposition", kV2Table0112, e.discharge_disposition);
    w_.endObject();
  }
  std::string where;
  for (const Sourced* part : {&e.location_point_of_care, &e.location_room, &e.location_bed, &e.location_facility}) {
    if (part->empty()) continue;
    if (!where.empty()) where += ' ';
    where += part->value;
  }
  if (!where.empty()) {
    writeKey(w_, "location");
    w_.startArray();
    w_.startObject();
    writeKey(w_, "location");
    w_.startObject();
    writeField(w_, "display", where);
    w_.endObject();
    w_.endObject();
    w_.endArray();
  }
  endEntry();
}

void BundleWriter::conditions() {
  for (size_t i = 0; i < rec_.diagnoses.size(); ++i) {
    const Diagnosis& d = rec_.diagnoses[i];
    beginEntry("Condition", condition_ids_[i]);
    writeKey(w_, "category");
    w_.startArray();
    w_.startObject();
    writeKey(w_, "coding");
    w_.startArray();
    constCoding("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis");
    w_.endArray();
    w_.endObject();
    w_.endArray();
    writeConcept("code", d.code, d.text.value);
    writeReference(w_, "subject", patient_id_);
    writeReference(w_, "encounter", encounter_id_);
    dateTime("recordedDate", d.time);
    endEntry();
  }
}

void BundleWriter::procedures() {
  for (const Procedure& p : rec_.procedures) {
    fhir::Uuid performer_id;
    if (hasPractitioner(p.performer)) {
      performer_id = idFor("Practitioner", p.source_segment, "-performer");
      practitioner(p.performer, performer_id);
    }
    beginEntry("Procedure", idFor("Procedure", p.source_segment));
    plain("status", "completed");
    writeConcept("code", p.code, p.text.value);
    writeReference(w_, "subject", patient_id_);
    writeReference(w_, "encounter", encounter_id_);
    dateTime("performedDateTime", p.time);
    if (!performer_id.empty()) {
      writeKey(w_, "performer");
      w_.startArray();
      w_.startObject();
      writeReference(w_, "actor", performer_id);
      w_.endObject();
      w_.endArray();
    }
    endEntry();
  }
}

std::string_view requestStatus(std::string_view v) {
  if (v == "F" || v == "CM" || v == "C") return "completed";
  if (v == "CA" || v == "DC" || v == "X") return "revoked";
  if (v == "HD") return "on-hold";
  if (v == "P" || v == "IP" || v == "SC" || v == "I" || v == "A" || v == "R" || v == "NW") return "active";
  return "unknown";
}

void BundleWriter::orders() {
  for (size_t i = 0; i < rec_.orders.size(); ++i) {
    const Order& o = rec_.orders[i];
    beginEntry("ServiceRequest", order_ids_[i]);
    if (!o.placer_number.empty() || !o.filler_number.empty()) {
      writeKey(w_, "identifier");
      w_.startArray();
      if (!o.placer_number.empty()) identifierWithType(o.placer_number.value, "PLAC");
      if (!o.filler_number.empty()) identifierWithType(o.filler_number.value, "FILL");
      w_.endArray();
    }
    plain("status", requestStatus(o.status.value));
    plain("intent", "order");
    writeConcept("code", o.service);
    writeReference(w_, "subject", patient_id_);
    writeReference(w_, "encounter", encounter_id_);
    dateTime("occurrenceDateTime", o.time);
    endEntry();
  }
}

std::string_view observationStatus(std::string_view v) {
  if (v == "F") return "final";
  if (v == "P" || v == "S") return "preliminary";
  if (v == "C") return "corrected";
  if (v == "A") return "amended";
  if (v == "X") return "cancelled";
  if (v == "D" || v == "W") return "entered-in-error";
  if (v == "R" || v == "I") return "registered";
  return "unknown";
}

// value[x] of one OBX-5 value (the Observation's, or a component's for repetitions).
void BundleWriter::observationValue(const Observation& o, const Sourced& value, const Code& coded) {
  std::string_view type = o.value_type.value;
  std::string_view v = value.value;
  if (!v.empty()) {
    std::string_view number = v;
    std::string_view comparator;
    if (type == "SN") {
      for (std::string_view c : {"<=", ">=", "<", ">"}) {
        if (number.substr(0, c.size()) == c) {
          comparator = c;
          number.remove_prefix(c.size());
          break;
        }
      }
      if (!number.empty() && number.front() == '=') number.remove_prefix(1);
    }
    if ((type == "NM" || type == "SN") && fhir::isFhirDecimal(number)) {
      writeKey(w_, "valueQuantity");
      w_.startObject();
      decimal("value", number);
      plain("comparator", comparator);
      const Code& u = o.units;
      writeField(w_, "unit", u.display.empty() ? u.code.value : u.display.value);
      if (u.system.value == "UCUM" && validCode(u.code.value)) {
        plain("system", "http://unitsofmeasure.org");
        writeField(w_, "code", u.code.value);
      }
      w_.endObject();
    } else if ((type == "CE" || type == "CWE" || type == "CNE") && !coded.empty()) {
      writeConcept("valueCodeableConcept", coded);
    } else if ((type == "DT" || type == "TS" || type == "DTM") && fhirDateTime(v).ok) {
      time("valueDateTime", fhirDateTime(v));
    } else {
      writeField(w_, "valueString", v);
    }
  }
}

void BundleWriter::observations() {
  for (const Observation& o : rec_.observations) {
    beginEntry("Observation", idFor("Observation", o.source_segment));
    if (o.order_index > 0) {
      writeKey(w_, "basedOn");
      w_.startArray();
      w_.startObject();
      writeKey(w_, "reference");
      w_.urnUuid(order_ids_[o.order_index - 1]);
      w_.endObject();
      w_.endArray();
    }
    plain("status", observationStatus(o.status.value));
    writeKey(w_, "code");
    if (!writeConceptBody(o.code)) {
      w_.startObject();
      plain("text", "unspecified");
      w_.endObject();
    }
    writeReference(w_, "subject", patient_id_);
    writeReference(w_, "encounter", encounter_id_);
    dateTime("effectiveDateTime", o.effective_time);
    // Repeated values (OBX-5 `~`) become one component each, with the Observation's
    // code; obs-7 then forbids a value on the Observation itself.
    if (o.repeats.empty()) observationValue(o, o.value, o.coded_value);
    if (validCode(o.abnormal_flag.value)) {
      writeKey(w_, "interpretation");
      w_.startArray();
      w_.startObject();
      writeKey(w_, "coding");
      w_.startArray();
      coding("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", o.abnormal_flag.value);
      w_.endArray();
      w_.endObject();
      w_.endArray();
    }
    if (!o.reference_range.empty()) {
      writeKey(w_, "referenceRange");
      w_.startArray();
      w_.startObject();
      writeField(w_, "text", o.reference_range.value);
      w_.endObject();
      w_.endArray();
    }
    if (!o.repeats.empty()) {
      writeKey(w_, "component");
      w_.startArray();
      static const Code kNoCode;
      for (size_t i = 0; i <= o.repeats.size(); ++i) {
        const Sourced& value = i == 0 ? o.value : o.repeats[i - 1];
        const Code& coded = i == 0 ? o.coded_value : i - 1 < o.coded_repeats.size() ? o.coded_repeats[i - 1] : kNoCode;
        if (value.empty()) continue;
        w_.startObject();
        writeKey(w_, "code");
        if (!writeConceptBody(o.code)) {
          w_.startObject();
          plain("text", "unspecified");
          w_.endObject();
        }
        observationValue(o, value, coded);
        w_.endObject();
      }
      w_.endArray();
    }
    endEntry();
  }
}

void BundleWriter::charges() {
  for (const Charge& c : rec_.charges) {
    beginEntry("ChargeItem", idFor("ChargeItem", c.source_segment));
    if (!c.modifiers.empty()) {
      writeKey(w_, "extension");
      w_.startArray();
      for (const Sourced& m : c.modifiers) {
        if (!validCode(m.value)) continue;
        w_.startObject();
        plain("url", "urn:courier:fhir:extension:procedure-modifier");
        writeField(w_, "valueCode", m.value);
        w_.endObject();
      }
      w_.endArray();
    }
    plain("status", c.transaction_type.value == "CD" ? "not-billable" : "billable");
    writeKey(w_, "code");
    w_.startObject();
    writeKey(w_, "coding");
    w_.startArray();
    if (validCode(c.hcpcs.code.value)) recordCoding(c.hcpcs, "http://www.ama-assn.org/go/cpt");
    if (validCode(c.chargemaster.code.value)) recordCoding(c.chargemaster);
    w_.endArray();
    if (!validCode(c.hcpcs.code.value) && !validCode(c.chargemaster.code.value)) plain("text", "unspecified");
    w_.endObject();
    writeReference(w_, "subject", patient_id_);
    writeReference(w_, "context", encounter_id_);
    dateTime("occurrenceDateTime", c.transaction_date);
    if (fhir::isFhirDecimal(c.quantity.value)) {
      writeKey(w_, "quantity");
      w_.startObject();
      decimal("value", c.quantity.value);
      w_.endObject();
    }
    if (fhir::isFhirDecimal(c.amount.value)) {
      writeKey(w_, "priceOverride");
      w_.startObject();
      decimal("value", c.amount.value);
      plain("currency", "USD");
      w_.endObject();
    }
    if (!c.diagnoses.empty()) {
      writeKey(w_, "reason");
      w_.startArray();
      for (const Code& d : c.diagnoses) writeConceptBody(d);
      w_.endArray();
    }
    endEntry();
  }
}

void BundleWriter::immunizations() {
  for (const Immunization& im : rec_.immunizations) {
    beginEntry("Immunization", idFor("Immunization", im.source_segment));
    const std::string& cs = im.completion_status.value;
    plain("status", cs == "RE" || cs == "NA" ? "not-done" : "completed");
    writeKey(w_, "vaccineCode");
    if (!writeConceptBody(im.vaccine)) {
      w_.startObject();
      plain("text", "unspecified");
      w_.endObject();
    }
    writeReference(w_, "patient", patient_id_);
    writeReference(w_, "encounter", encounter_id_);
    const FhirTime when = fhirDateTime(im.time.value);
    if (when.ok) time("occurrenceDateTime", when);
    else writeField(w_, "occurrenceString", im.time.value.empty() ? "unknown" : im.time.value);
    if (!im.manufacturer.empty()) {
      writeKey(w_, "manufacturer");
      w_.startObject();
      writeField(w_, "display", im.manufacturer.display.empty() ? im.manufacturer.code.value
                                                                 : im.manufacturer.display.value);
      w_.endObject();
    }
    writeField(w_, "lotNumber", im.lot.value);
    time("expirationDate", fhirDate(im.expiration.value));
    writeConcept("site", im.site);
    writeConcept("route", im.route);
    if (fhir::isFhirDecimal(im.dose.value) && im.dose.value != "999") {
      writeKey(w_, "doseQuantity");
      w_.startObject();
      decimal("value", im.dose.value);
      writeField(w_, "unit", im.dose_units.value);
      w_.endObject();
    }
    endEntry();
  }
}

std::string_view subscriberRelationship(std::string_view v) {
  if (v == "SEL" || v == "01" || v == "18") return "self";
  if (v == "SPO" || v == "02" || v == "DOM") return "spouse";
  if (v == "CHD" || v == "03" || v == "19") return "child";
  if (v == "PAR") return "parent";
  if (v.empty()) return {};
  return "other";
}

void BundleWriter::coverages() {
  for (const Coverage& c : rec_.coverages) {
    const fhir::Uuid payer_id = idFor("Organization", c.source_segment, "-payer");
    beginEntry("Organization", payer_id);
    if (!c.payer_id.empty()) {
      writeKey(w_, "identifier");
      w_.startArray();
      identifierWithType(c.payer_id.value, "");
      w_.endArray();
    }
    writeField(w_, "name", c.payer_name.empty() ? std::string_view("unknown payer") : c.payer_name.value.view());
    endEntry();

    beginEntry("Coverage", idFor("Coverage", c.source_segment));
    plain("status", "active");
    writeField(w_, "subscriberId", c.member_id.value);
    writeReference(w_, "beneficiary", patient_id_);
    std::string_view rel = subscriberRelationship(c.relationship.value);
    if (!rel.empty()) {
      writeKey(w_, "relationship");
      w_.startObject();
      writeKey(w_, "coding");
      w_.startArray();
      constCoding("http://terminology.hl7.org/CodeSystem/subscriber-relationship", rel);
      w_.endArray();
      w_.endObject();
    }
    period(c.start, c.end);
    writeKey(w_, "payor");
    w_.startArray();
    w_.startObject();
    writeKey(w_, "reference");
    w_.urnUuid(payer_id);
    w_.endObject();
    w_.endArray();
    bool has_plan = !c.plan.code.empty();
    if (!c.group_number.empty() || has_plan) {
      writeKey(w_, "class");
      w_.startArray();
      auto cls = [&](std::string_view code, std::string_view value, std::string_view name) {
        w_.startObject();
        writeKey(w_, "type");
        w_.startObject();
        writeKey(w_, "coding");
        w_.startArray();
        constCoding("http://terminology.hl7.org/CodeSystem/coverage-class", code);
        w_.endArray();
        w_.endObject();
        writeField(w_, "value", value);
        writeField(w_, "name", name);
        w_.endObject();
      };
      if (!c.group_number.empty()) cls("group", c.group_number.value, {});
      if (has_plan) cls("plan", c.plan.code.value, c.plan.display.value);
      w_.endArray();
    }
    endEntry();
  }
}

std::string_view appointmentStatus(std::string_view v, std::string_view trigger) {
  if (v == "Booked") return "booked";
  if (v == "Pending" || v == "Waitlist") return "pending";
  if (v == "Cancelled" || v == "Deleted") return "cancelled";
  if (v == "Complete") return "fulfilled";
  if (v == "Noshow") return "noshow";
  if (v == "Started") return "arrived";
  if (trigger == "S15" || trigger == "S17") return "cancelled";
  if (trigger == "S26") return "noshow";
  return "booked";
}

void BundleWriter::appointments() {
  for (const Appointment& a : rec_.appointments) {
    beginEntry("Appointment", idFor("Appointment", a.source_segment));
    if (!a.placer_id.empty() || !a.filler_id.empty()) {
      writeKey(w_, "identifier");
      w_.startArray();
      if (!a.placer_id.empty()) identifierWithType(a.placer_id.value, "PLAC");
      if (!a.filler_id.empty()) identifierWithType(a.filler_id.value, "FILL");
      w_.endArray();
    }
    plain("status", appointmentStatus(a.status.value, rec_.trigger.value));
    if (!a.reason.empty()) {
      writeKey(w_, "reasonCode");
      w_.startArray();
      writeConceptBody(a.reason);
      w_.endArray();
    }
    const FhirTime start = fhirInstant(a.start.value);
    const FhirTime end = fhirInstant(a.end.value);
    if (start.ok && end.ok) {  // Appointment invariant app-2: both or neither
      time("start", start);
      time("end", end);
    }
    writeKey(w_, "participant");
    w_.startArray();
    w_.startObject();
    writeReference(w_, "actor", patient_id_);
    plain("status", "accepted");
    w_.endObject();
    w_.endArray();
    endEntry();
  }
}

std::string_view documentStatus(std::string_view v) {
  if (v == "AU" || v == "LA") return "final";
  if (v == "PA" || v == "IP" || v == "IN" || v == "DI" || v == "DO") return "preliminary";
  return {};
}

void BundleWriter::documents() {
  for (const Document& d : rec_.documents) {
    beginEntry("DocumentReference", idFor("DocumentReference", d.source_segment));
    if (!d.unique_id.empty()) {
      writeKey(w_, "masterIdentifier");
      w_.startObject();
      writeField(w_, "value", d.unique_id.value);
      w_.endObject();
    }
    plain("status", "current");
    plain("docStatus", documentStatus(d.status.value));
    if (!d.type.empty()) {
      writeKey(w_, "type");
      w_.startObject();
      writeField(w_, "text", d.type.value);
      w_.endObject();
    }
    writeReference(w_, "subject", patient_id_);
    time("date", fhirInstant(d.time.value));
    writeKey(w_, "content");
    w_.startArray();
    w_.startObject();
    writeKey(w_, "attachment");
    w_.startObject();
    plain("contentType", "text/plain; charset=utf-8");
    writeField(w_, "data", base64(d.text));
    w_.endObject();
    w_.endObject();
    w_.endArray();
    if (!encounter_id_.empty()) {
      writeKey(w_, "context");
      w_.startObject();
      writeKey(w_, "encounter");
      w_.startArray();
      w_.startObject();
      writeKey(w_, "reference");
      w_.urnUuid(encounter_id_);
      w_.endObject();
      w_.endArray();
      w_.endObject();
    }
    endEntry();
  }
}

// NK1-3 / GT1-11 (table 0063) and NK1-7 (table 0131) as RelatedPerson.relationship.
void BundleWriter::relatedPerson(const Contact& c, std::string_view id) {
  beginEntry("RelatedPerson", id);
  writeReference(w_, "patient", patient_id_);
  bool has_rel = validCode(c.relationship.code.value) || !c.relationship.display.empty();
  bool has_role = validCode(c.role.value);
  if (has_rel || has_role) {
    writeKey(w_, "relationship");
    w_.startArray();
    if (has_rel) {
      w_.startObject();
      if (validCode(c.relationship.code.value)) {
        writeKey(w_, "coding");
        w_.startArray();
        coding(kV2Table0063, c.relationship.code.value, c.relationship.display.value);
        w_.endArray();
      } else {
        writeField(w_, "text", c.relationship.display.value);
      }
      w_.endObject();
    }
    if (has_role) {
      w_.startObject();
      writeKey(w_, "coding");
      w_.startArray();
      coding(kV2Table0131, c.role.value);
      w_.endArray();
      w_.endObject();
    }
    w_.endArray();
  }
  if (!c.name.family.empty() || !c.name.given.empty()) {
    names(std::span<const Name>(&c.name, 1));  // one name; names() takes a list
  }
  telecoms(c.telecoms);
  plain("gender", gender(c.sex.value));
  time("birthDate", fhirDate(c.birth_date.value));
  addresses(c.addresses);
  period(c.start, c.end);
  endEntry();
}

void BundleWriter::contacts() {
  if (patient_id_.empty()) return;  // RelatedPerson.patient is required
  for (const Contact& c : rec_.contacts) relatedPerson(c, idFor("RelatedPerson", c.source_segment));
}

// AL1-2 (table 0127) → AllergyIntolerance.category; empty for kinds FHIR has no category for.
std::string_view allergyCategory(std::string_view v) {
  if (v == "DA" || v == "MC") return "medication";
  if (v == "FA") return "food";
  if (v == "EA" || v == "AA" || v == "PA" || v == "LA") return "environment";
  return {};
}

void BundleWriter::allergies() {
  if (patient_id_.empty()) return;  // AllergyIntolerance.patient is required
  for (const Allergy& a : rec_.allergies) {
    beginEntry("AllergyIntolerance", idFor("AllergyIntolerance", a.source_segment));
    writeKey(w_, "clinicalStatus");
    w_.startObject();
    writeKey(w_, "coding");
    w_.startArray();
    constCoding("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active");
    w_.endArray();
    w_.endObject();
    const std::string_view t = a.type.value;
    if (t == "MA" || t == "DA" || t == "FA" || t == "EA" || t == "AA" || t == "PA" || t == "LA" || t == "MC")
      plain("type", "allergy");
    else if (t == "FI" || t == "DI" || t == "MI")  // food, drug, misc intolerance (v2.5+)
      plain("type", "intolerance");
    std::string_view category = allergyCategory(t);
    if (!category.empty()) {
      writeKey(w_, "category");
      w_.startArray();
      writeString(w_, category);
      w_.endArray();
    }
    const std::string_view sev = a.severity.value;
    if (sev == "SV") plain("criticality", "high");
    else if (sev == "MO" || sev == "MI") plain("criticality", "low");
    else if (sev == "U") plain("criticality", "unable-to-assess");
    writeConcept("code", a.allergen);
    writeReference(w_, "patient", patient_id_);
    writeReference(w_, "encounter", encounter_id_);
    dateTime("onsetDateTime", a.onset);
    if (!a.reactions.empty()) {
      writeKey(w_, "reaction");
      w_.startArray();
      w_.startObject();
      writeKey(w_, "manifestation");
      w_.startArray();
      for (const Sourced& r : a.reactions) {
        w_.startObject();
        writeField(w_, "text", r.value);
        w_.endObject();
      }
      w_.endArray();
      if (sev == "SV") plain("severity", "severe");
      else if (sev == "MO") plain("severity", "moderate");
      else if (sev == "MI") plain("severity", "mild");
      w_.endObject();
      w_.endArray();
    }
    endEntry();
  }
}

// GT1 → Account (subject: the patient) whose guarantor party is the Patient itself (GT1-11
// SEL) or a RelatedPerson written from the guarantor's name, address and phones.
void BundleWriter::guarantors() {
  if (patient_id_.empty()) return;  // the Account and a RelatedPerson need the patient
  for (const Guarantor& g : rec_.guarantors) {
    fhir::Uuid party_id = patient_id_;
    if (!g.is_patient) {
      party_id = idFor("RelatedPerson", g.source_segment);
      relatedPerson(g.person, party_id);
    }
    beginEntry("Account", idFor("Account", g.source_segment));
    if (!g.number.value.empty()) {
      writeKey(w_, "identifier");
      w_.startArray();
      identifierWithType(g.number.value.value, validCode(g.number.type.value) ? std::string_view(g.number.type.value) : "");
      w_.endArray();
    }
    plain("status", "active");
    writeKey(w_, "subject");
    w_.startArray();
    w_.startObject();
    writeKey(w_, "reference");
    w_.urnUuid(patient_id_);
    w_.endObject();
    w_.endArray();
    writeKey(w_, "guarantor");
    w_.startArray();
    w_.startObject();
    writeReference(w_, "party", party_id);
    period(g.person.start, g.person.end);
    w_.endObject();
    w_.endArray();
    endEntry();
  }
}

std::string BundleWriter::run() {
  // A record read from a FHIR resource without its Patient has no subject to point at.
  if (rec_.has_patient) patient_id_ = idFor("Patient", rec_.patient.source_segment);
  if (rec_.has_encounter) encounter_id_ = idFor("Encounter", rec_.encounter.source_segment);
  condition_ids_.reserve(rec_.diagnoses.size());
  for (const Diagnosis& d : rec_.diagnoses) condition_ids_.push_back(idFor("Condition", d.source_segment));
  order_ids_.reserve(rec_.orders.size());
  for (const Order& o : rec_.orders) order_ids_.push_back(idFor("ServiceRequest", o.source_segment));

  w_.startObject();
  plain("resourceType", "Bundle");
  plain("id", idFor("Bundle", ""));
  if (!rec_.message_id.empty()) {
    writeKey(w_, "identifier");
    w_.startObject();
    writeField(w_, "value", rec_.message_id.value);
    w_.endObject();
  }
  plain("type", "collection");
  time("timestamp", fhirInstant(rec_.sent_time.value));
  writeKey(w_, "entry");
  w_.startArray();
  if (rec_.has_patient) patient();
  if (rec_.has_encounter) encounter();
  conditions();
  procedures();
  orders();
  observations();
  charges();
  immunizations();
  coverages();
  appointments();
  documents();
  contacts();
  allergies();
  guarantors();
  w_.endArray();
  w_.endObject();
  return std::string(buf_.view());
}

}  // namespace

std::string hl7ToFhirDate(std::string_view dtm) { return toString(fhirDate(dtm)); }

std::string hl7ToFhirDateTime(std::string_view dtm) { return toString(fhirDateTime(dtm)); }

std::string hl7ToFhirInstant(std::string_view dtm) { return toString(fhirInstant(dtm)); }

std::string_view fhirSystemFor(std::string_view s) {
  struct Entry {
    std::string_view hl7;
    std::string_view uri;
  };
  static constexpr std::array<Entry, 23> kSystems = {{
      {"LN", "http://loinc.org"},
      {"LOINC", "http://loinc.org"},
      {"SCT", "http://snomed.info/sct"},
      {"SNM", "http://snomed.info/sct"},
      {"SNOMED", "http://snomed.info/sct"},
      {"SNOMED-CT", "http://snomed.info/sct"},
      {"I10", "http://hl7.org/fhir/sid/icd-10-cm"},
      {"I10C", "http://hl7.org/fhir/sid/icd-10-cm"},
      {"ICD10", "http://hl7.org/fhir/sid/icd-10-cm"},
      {"ICD-10-CM", "http://hl7.org/fhir/sid/icd-10-cm"},
      {"I10P", "http://www.cms.gov/Medicare/Coding/ICD10"},
      {"I9", "http://hl7.org/fhir/sid/icd-9-cm"},
      {"I9C", "http://hl7.org/fhir/sid/icd-9-cm"},
      {"ICD9", "http://hl7.org/fhir/sid/icd-9-cm"},
      {"C4", "http://www.ama-assn.org/go/cpt"},
      {"C5", "http://www.ama-assn.org/go/cpt"},
      {"CPT", "http://www.ama-assn.org/go/cpt"},
      {"HCPCS", "urn:oid:2.16.840.1.113883.6.285"},
      {"HCPT", "urn:oid:2.16.840.1.113883.6.285"},
      {"CVX", "http://hl7.org/fhir/sid/cvx"},
      {"MVX", "http://terminology.hl7.org/CodeSystem/MVX"},
      {"UCUM", "http://unitsofmeasure.org"},
      {"RXNORM", "http://www.nlm.nih.gov/research/umls/rxnorm"},
  }};
  for (const Entry& e : kSystems)
    if (e.hl7 == s) return e.uri;
  // A record read from FHIR keeps code systems without an HL7 name as their URI
  // (scheme ":" and no whitespace; HL7 senders put free text in CWE-3 too).
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || s[0] < 'a' || s[0] > 'z') return {};
  for (size_t i = 0; i < colon; ++i) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '.' || c == '-')) return {};
  }
  for (char c : s)
    if (static_cast<unsigned char>(c) <= ' ') return {};
  return s;
}

std::string toFhirBundle(const CanonicalRecord& rec) {
  // One buffer per thread: a Bundle is written without growing it step by step.
  thread_local fhir::JsonBuffer buf(8192);
  BundleWriter writer(rec, buf);
  std::string out = writer.run();
  if (buf.capacity() > (size_t{1} << 20)) buf.shrinkTo(8192);  // do not keep a huge document's buffer
  return out;
}

}  // namespace courier::record
