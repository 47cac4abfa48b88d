#include "engine/record/from_fhir.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>

#include "engine/fhir/ids.h"

namespace courier::record {
namespace {

using Value = rapidjson::Value;

// Numbers stay text (FHIR decimals keep their precision), the input must be
// valid UTF-8, and the parser is iterative so deep nesting cannot overflow the
// stack. The DOM uses the pool allocator, whose destruction does not recurse.
constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;

std::string_view view(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

// A resourceType names a FHIR type: an upper-case letter, then letters. (Numbers
// are parsed as text, so this is also what tells `"resourceType": 42` apart.)
bool isTypeName(const Value* v) {
  if (v == nullptr || !v->IsString() || v->GetStringLength() == 0) return false;
  std::string_view s = view(*v);
  if (s[0] < 'A' || s[0] > 'Z') return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  return true;
}

std::string indexed(std::string_view base, std::string_view key, size_t i) {
  std::string out;
  out.reserve(base.size() + key.size() + 8);
  out.append(base).append(".").append(key).append("[").append(std::to_string(i)).append("]");
  return out;
}

std::string child(std::string_view base, std::string_view key) {
  std::string out;
  out.reserve(base.size() + key.size() + 1);
  out.append(base).append(".").append(key);
  return out;
}

// Reads typed elements of the DOM and keeps the first type error with its path;
// every accessor checks IsX() before GetX() and returns "absent" on a mismatch,
// so a conversion runs to its end and the caller asks error() once.
class Reader {
 public:
  // Member `key` of `obj` (obj must be an object); null when absent or JSON null.
  static const Value* member(const Value& obj, std::string_view key) {
    if (!obj.IsObject()) return nullptr;
    Value name(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size())));
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  const Value* object(const Value& obj, std::string_view key, std::string_view path) {
    const Value* v = member(obj, key);
    if (v == nullptr) return nullptr;
    if (!v->IsObject()) {
      fail(child(path, key), "must be a JSON object");
      return nullptr;
    }
    return v;
  }

  const Value* array(const Value& obj, std::string_view key, std::string_view path) {
    const Value* v = member(obj, key);
    if (v == nullptr) return nullptr;
    if (!v->IsArray()) {
      fail(child(path, key), "must be a JSON array");
      return nullptr;
    }
    return v;
  }

  // Element i of an array that must hold objects.
  const Value* objectAt(const Value& arr, size_t i, std::string_view path_of_element) {
    const Value& v = arr[static_cast<rapidjson::SizeType>(i)];
    if (!v.IsObject()) {
      fail(std::string(path_of_element), "must be a JSON object");
      return nullptr;
    }
    return &v;
  }

  // A primitive (string, number kept as text, or boolean as true/false) at obj.key.
  Sourced string(const Value& obj, std::string_view key, std::string_view path) {
    Sourced out;
    const Value* v = member(obj, key);
    if (v == nullptr) return out;
    if (v->IsString()) {
      out.value.assign(view(*v));
    } else if (v->IsBool()) {
      out.value = v->GetBool() ? "true" : "false";
    } else {
      fail(child(path, key), "must be a JSON string");
      return out;
    }
    if (!out.value.empty()) out.source = child(path, key);
    return out;
  }

  // A date/time element, as HL7 DTM.
  Sourced dateTime(const Value& obj, std::string_view key, std::string_view path) {
    Sourced s = string(obj, key, path);
    if (!s.empty()) s.value = fhirToHl7DateTime(s.value);
    return s;
  }

  // The first coding with a code of a CodeableConcept, or its text alone.
  // `text` (may be null) receives CodeableConcept.text.
  Code codeable(const Value& obj, std::string_view key, std::string_view path, Sourced* text = nullptr) {
    Code c;
    const Value* cc = object(obj, key, path);
    if (cc == nullptr) return c;
    std::string base = child(path, key);
    conceptBody(*cc, base, c, text);
    return c;
  }

  void conceptBody(const Value& cc, const std::string& base, Code& c, Sourced* text) {
    Sourced t = string(cc, "text", base);
    if (const Value* codings = array(cc, "coding", base)) {
      for (size_t i = 0; i < codings->Size(); ++i) {
        std::string at = indexed(base, "coding", i);
        const Value* coding = objectAt(*codings, i, at);
        if (coding == nullptr) continue;
        Code one = this->coding(*coding, at);
        if (one.code.empty()) continue;
        c = std::move(one);
        break;
      }
    }
    if (c.code.empty() && c.display.empty()) c.display = t;
    if (text != nullptr) *text = std::move(t);
  }

  Code coding(const Value& coding, std::string_view path) {
    Code c;
    c.code = string(coding, "code", path);
    c.display = string(coding, "display", path);
    c.system = string(coding, "system", path);
    if (!c.system.empty()) c.system.value.assign(hl7SystemFor(c.system.value));
    return c;
  }

  // The code of the first coding of a CodeableConcept.
  Sourced conceptCode(const Value& obj, std::string_view key, std::string_view path) {
    Code c = codeable(obj, key, path);
    return c.code;
  }

  void fail(std::string path, std::string_view what) {
    if (failed_) return;
    failed_ = true;
    error_ = Error(ErrorCode::kInvalidArgument, std::string(what), std::move(path));
  }
  bool failed() const { return failed_; }
  Error takeError() { return std::move(error_); }

 private:
  bool failed_ = false;
  Error error_;
};

// A small code table lookup: FHIR code → HL7 value (first match wins).
struct Pair {
  std::string_view from;
  std::string_view to;
};
template <size_t N>
std::string_view lookup(const std::array<Pair, N>& table, std::string_view v) {
  for (const Pair& p : table)
    if (p.from == v) return p.to;
  return {};
}

// Replaces s.value through `table`; keeps the FHIR code when it has no HL7 value.
template <size_t N>
void mapValue(Sourced& s, const std::array<Pair, N>& table) {
  std::string_view to = lookup(table, s.value);
  if (!to.empty()) s.value.assign(to);
}

constexpr std::array<Pair, 4> kGender = {{{"male", "M"}, {"female", "F"}, {"other", "O"}, {"unknown", "U"}}};
constexpr std::array<Pair, 6> kNameUse = {
    {{"official", "L"}, {"usual", "D"}, {"maiden", "M"}, {"nickname", "N"}, {"temp", "T"}, {"anonymous", "S"}}};
constexpr std::array<Pair, 3> kAddressUse = {{{"home", "H"}, {"work", "B"}, {"temp", "C"}}};
constexpr std::array<Pair, 5> kTelecomSystem = {
    {{"phone", "PH"}, {"email", "Internet"}, {"fax", "FX"}, {"pager", "BP"}, {"sms", "CP"}}};
constexpr std::array<Pair, 4> kTelecomUse = {{{"home", "PRN"}, {"work", "WPN"}, {"mobile", "PRN"}, {"temp", "PRN"}}};
constexpr std::array<Pair, 6> kEncounterClass = {
    {{"IMP", "I"}, {"ACUTE", "I"}, {"NONAC", "I"}, {"AMB", "O"}, {"EMER", "E"}, {"PRENC", "P"}}};
constexpr std::array<Pair, 8> kObservationStatus = {{{"final", "F"},
                                                      {"preliminary", "P"},
                                                      {"corrected", "C"},
                                                      {"amended", "A"},
                                                      {"cancelled", "X"},
                                                      {"entered-in-error", "W"},
                                                      {"registered", "R"},
                                                      {"unknown", ""}}};
constexpr std::array<Pair, 5> kRequestStatus = {
    {{"completed", "CM"}, {"revoked", "CA"}, {"on-hold", "HD"}, {"active", "IP"}, {"draft", "P"}}};
constexpr std::array<Pair, 5> kRelationship = {
    {{"self", "SEL"}, {"spouse", "SPO"}, {"child", "CHD"}, {"parent", "PAR"}, {"other", "OTH"}}};
constexpr std::array<Pair, 3> kAllergyCategory = {{{"medication", "DA"}, {"food", "FA"}, {"environment", "EA"}}};
constexpr std::array<Pair, 3> kReactionSeverity = {{{"severe", "SV"}, {"moderate", "MO"}, {"mild", "MI"}}};
constexpr std::array<Pair, 2> kDocStatus = {{{"final", "AU"}, {"preliminary", "PA"}}};

// Decodes standard base64 (padding optional, whitespace skipped); false on other bytes.
bool decodeBase64(std::string_view in, std::string& out) {
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == '+') v = 62;
    else if (ch == '/') v = 63;
    else if (ch == '=' || ch == '\n' || ch == '\r' || ch == ' ') continue;
    else return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return true;
}

struct EntryRef {
  const Value* resource = nullptr;
  std::string path;  // "Bundle.entry[3].resource" or "Condition/abc"
  std::string type;
};

class Converter {
 public:
  explicit Converter(CanonicalRecord& rec) : rec_(rec) {}

  Result<void> run(const Value& root) {
    if (!root.IsObject())
      return Unexpected(Error(ErrorCode::kInvalidArgument, "a FHIR resource must be a JSON object", "$"));
    const Value* type = Reader::member(root, "resourceType");
    if (!isTypeName(type))
      return Unexpected(Error(ErrorCode::kInvalidArgument, "resourceType is missing or not a FHIR type name", "resourceType"));
    std::string_view rt = view(*type);
    if (rt == "Bundle") {
      readBundle(root);
    } else {
      EntryRef e;
      e.resource = &root;
      e.type.assign(rt);
      e.path.assign(rt);
      Sourced id = r_.string(root, "id", rt);
      if (!id.empty()) e.path.append("/").append(id.value);
      entries_.push_back(std::move(e));
      addContained(0);
      rec_.message_type = {"FHIR", "resourceType"};
      rec_.trigger = {std::string(rt), "resourceType"};
      rec_.message_id = id;
      readEntries();
    }
    if (r_.failed()) return Unexpected(r_.takeError());
    return Ok();
  }

 private:
  void readBundle(const Value& b) {
    rec_.message_type = {"FHIR", "Bundle.resourceType"};
    rec_.trigger = r_.string(b, "type", "Bundle");
    if (const Value* ident = r_.object(b, "identifier", "Bundle")) rec_.message_id = r_.string(*ident, "value", "Bundle.identifier");
    if (rec_.message_id.empty()) rec_.message_id = r_.string(b, "id", "Bundle");
    rec_.sent_time = r_.dateTime(b, "timestamp", "Bundle");
    const Value* list = r_.array(b, "entry", "Bundle");
    if (list == nullptr) return;
    entries_.reserve(list->Size());
    for (size_t i = 0; i < list->Size(); ++i) {
      std::string at = indexed("Bundle", "entry", i);
      const Value* entry = r_.objectAt(*list, i, at);
      if (entry == nullptr) return;
      const Value* res = r_.object(*entry, "resource", at);
      if (res == nullptr) continue;  // batch GET/DELETE requests carry none
      EntryRef e;
      e.resource = res;
      e.path = child(at, "resource");
      const Value* type = Reader::member(*res, "resourceType");
      if (!isTypeName(type)) {
        r_.fail(child(e.path, "resourceType"), "resourceType is missing or not a FHIR type name");
        return;
      }
      e.type.assign(view(*type));
      size_t index = entries_.size();
      Sourced full = r_.string(*entry, "fullUrl", at);
      if (!full.empty()) by_url_.emplace(full.value, index);
      Sourced id = r_.string(*res, "id", e.path);
      if (!id.empty()) by_url_.emplace(e.type + "/" + id.value, index);
      entries_.push_back(std::move(e));
      addContained(index);
      if (r_.failed()) return;
    }
    if (!r_.failed()) readEntries();
  }

  // Contained resources of entry `index` become entries too, found by `#id`
  // (the first container wins when two use the same local id).
  void addContained(size_t index) {
    std::string base = entries_[index].path;
    const Value* list = r_.array(*entries_[index].resource, "contained", base);
    if (list == nullptr) return;
    for (size_t i = 0; i < list->Size(); ++i) {
      std::string at = indexed(base, "contained", i);
      const Value* res = r_.objectAt(*list, i, at);
      if (res == nullptr) return;
      const Value* type = Reader::member(*res, "resourceType");
      if (!isTypeName(type)) {
        r_.fail(child(at, "resourceType"), "resourceType is missing or not a FHIR type name");
        return;
      }
      EntryRef e;
      e.resource = res;
      e.path = at;
      e.type.assign(view(*type));
      Sourced id = r_.string(*res, "id", at);
      if (!id.empty()) by_url_.emplace("#" + id.value, entries_.size());
      entries_.push_back(std::move(e));  // invalidates references into entries_, none held here
    }
  }

  // Index of the entry a Reference points at, or -1.
  int resolve(const Value& holder, std::string_view key, std::string_view path) {
    const Value* ref = r_.object(holder, key, path);
    if (ref == nullptr) return -1;
    Sourced target = r_.string(*ref, "reference", child(path, key));
    if (target.empty()) return -1;
    auto it = by_url_.find(target.value);
    if (it != by_url_.end()) return static_cast<int>(it->second);
    // An absolute URL ending in Type/id matches the entry with that type and id.
    std::string_view t = target.value;
    size_t slash = t.rfind('/');
    if (slash != std::string_view::npos && slash > 0) {
      size_t type_start = t.rfind('/', slash - 1);
      std::string tail(t.substr(type_start == std::string_view::npos ? 0 : type_start + 1));
      it = by_url_.find(tail);
      if (it != by_url_.end()) return static_cast<int>(it->second);
    }
    return -1;
  }

  void readEntries() {
    // Subject and encounter first, so that the others can point at them.
    for (size_t i = 0; i < entries_.size() && !r_.failed(); ++i) {
      const EntryRef& e = entries_[i];
      if (e.type == "Patient" && !rec_.has_patient) {
        rec_.has_patient = true;
        readPatient(e);
      } else if (e.type == "MessageHeader") {
        readMessageHeader(e);
      }
    }
    if (!rec_.has_patient) patientFromReference();
    for (size_t i = 0; i < entries_.size() && !r_.failed(); ++i) {
      const EntryRef& e = entries_[i];
      if (e.type == "ServiceRequest") readOrder(e, i);
      else if (e.type == "Account") readAccount(e);  // before RelatedPerson: guarantors are not contacts
    }
    for (size_t i = 0; i < entries_.size() && !r_.failed(); ++i) {
      const EntryRef& e = entries_[i];
      const std::string& t = e.type;
      if (t == "Encounter") {
        if (!rec_.has_encounter) {
          rec_.has_encounter = true;
          encounter_entry_ = static_cast<int>(i);
        }
      } else if (t == "Condition") {
        condition_index_[i] = rec_.diagnoses.size();
        readCondition(e);
      } else if (t == "Procedure") {
        readProcedure(e);
      } else if (t == "Observation") {
        readObservation(e);
      } else if (t == "Immunization") {
        readImmunization(e);
      } else if (t == "Coverage") {
        readCoverage(e);
      } else if (t == "Claim") {
        readClaim(e);
      } else if (t == "ChargeItem") {
        readChargeItem(e);
      } else if (t == "DocumentReference") {
        readDocument(e);
      } else if (t == "RelatedPerson") {
        if (guarantor_entries_.count(i) == 0) {
          Contact c;
          readRelatedPerson(e, c);
          rec_.contacts.push_back(std::move(c));
        }
      } else if (t == "AllergyIntolerance") {
        readAllergy(e);
      }
    }
    // The encounter last: its diagnosis list annotates the conditions read above.
    if (encounter_entry_ >= 0 && !r_.failed()) readEncounter(entries_[static_cast<size_t>(encounter_entry_)]);
  }

  // A resource sent without its Patient still has one: the record gets a subject
  // known only by where it is referenced, so that the FHIR written from it has a
  // Patient to point at (Immunization.patient, Coverage.beneficiary are required).
  void patientFromReference() {
    for (const EntryRef& e : entries_) {
      for (std::string_view key : {"subject", "patient", "beneficiary"}) {
        const Value* ref = Reader::member(*e.resource, key);
        if (ref == nullptr || !ref->IsObject()) continue;
        // A reference, a logical identifier or only a display; not one naming another type
        // (subject may be a Group, Device or Location).
        const Value* target = Reader::member(*ref, "reference");
        bool to_patient = target != nullptr && target->IsString() &&
                          (view(*target).find("Patient/") != std::string_view::npos ||
                           view(*target).find('/') == std::string_view::npos);
        bool other = target != nullptr && !to_patient;
        if (other || (target == nullptr && Reader::member(*ref, "identifier") == nullptr &&
                      Reader::member(*ref, "display") == nullptr))
          continue;
        rec_.has_patient = true;
        rec_.patient.source_segment = child(e.path, key);
        if (const Value* ident = r_.object(*ref, "identifier", rec_.patient.source_segment)) {
          std::string base = child(rec_.patient.source_segment, "identifier");
          Identifier id;
          id.value = r_.string(*ident, "value", base);
          id.type = r_.conceptCode(*ident, "type", base);
          id.assigning_authority = r_.string(*ident, "system", base);
          if (!id.value.empty()) rec_.patient.identifiers.push_back(std::move(id));
        }
        return;
      }
    }
  }

  void readMessageHeader(const EntryRef& e) {
    const Value& m = *e.resource;
    if (const Value* ev = r_.object(m, "eventCoding", e.path)) {
      Sourced code = r_.string(*ev, "code", child(e.path, "eventCoding"));
      if (!code.empty()) rec_.trigger = code;
    }
    if (const Value* src = r_.object(m, "source", e.path)) {
      std::string base = child(e.path, "source");
      rec_.sending_application = r_.string(*src, "name", base);
      if (rec_.sending_application.empty()) rec_.sending_application = r_.string(*src, "endpoint", base);
    }
    if (const Value* sender = r_.object(m, "sender", e.path))
      rec_.sending_facility = r_.string(*sender, "display", child(e.path, "sender"));
  }

  void readPatient(const EntryRef& e) {
    const Value& p = *e.resource;
    Patient& out = rec_.patient;
    out.source_segment = e.path;
    if (const Value* ids = r_.array(p, "identifier", e.path)) {
      for (size_t i = 0; i < ids->Size(); ++i) {
        std::string at = indexed(e.path, "identifier", i);
        const Value* idv = r_.objectAt(*ids, i, at);
        if (idv == nullptr) return;
        Identifier id;
        id.value = r_.string(*idv, "value", at);
        if (id.value.empty()) continue;
        id.type = r_.conceptCode(*idv, "type", at);
        if (const Value* assigner = r_.object(*idv, "assigner", at))
          id.assigning_authority = r_.string(*assigner, "display", child(at, "assigner"));
        if (id.assigning_authority.empty()) {
          id.assigning_authority = r_.string(*idv, "system", at);
          Text& a = id.assigning_authority.value;
          if (a.starts_with("urn:oid:")) a = a.substr(8);
        }
        out.identifiers.push_back(std::move(id));
      }
    }
    readNames(p, e.path, out.names);
    out.birth_date = r_.dateTime(p, "birthDate", e.path);
    out.sex = r_.string(p, "gender", e.path);
    mapValue(out.sex, kGender);
    readAddresses(p, e.path, out.addresses);
    readTelecoms(p, e.path, out.telecoms);
    Sourced deceased = r_.string(p, "deceasedBoolean", e.path);
    if (!deceased.empty()) out.deceased = {deceased.value == "true" ? "Y" : "N", deceased.source};
    out.death_time = r_.dateTime(p, "deceasedDateTime", e.path);
    if (!out.death_time.empty() && out.deceased.empty()) out.deceased = {"Y", out.death_time.source};
    readExtensions(p, e.path, out.extensions);
  }

  // extension[] entries with a url and a valueString (what site maps write).
  void readExtensions(const Value& obj, std::string_view path, std::vector<Extension>& out) {
    const Value* list = r_.array(obj, "extension", path);
    if (list == nullptr) return;
    for (size_t i = 0; i < list->Size(); ++i) {
      // Lenient: extensions Courier does not read may be anything.
      const Value& ev = (*list)[static_cast<rapidjson::SizeType>(i)];
      if (!ev.IsObject()) continue;
      const Value* url_v = Reader::member(ev, "url");
      const Value* value_v = Reader::member(ev, "valueString");
      if (url_v == nullptr || !url_v->IsString() || value_v == nullptr || !value_v->IsString()) continue;
      std::string at = indexed(path, "extension", i);
      Sourced url = r_.string(ev, "url", at);
      Sourced value = r_.string(ev, "valueString", at);
      if (url.empty() || value.empty()) continue;
      out.push_back({std::move(url.value), std::move(value)});
    }
  }

  // RelatedPerson → Contact: relationship codings of table 0063 (or any other system)
  // and table 0131 (the contact role), name, telecom, address, gender, birth date, period.
  void readRelatedPerson(const EntryRef& e, Contact& c) {
    const Value& v = *e.resource;
    c.source_segment = e.path;
    if (const Value* rels = r_.array(v, "relationship", e.path)) {
      for (size_t i = 0; i < rels->Size(); ++i) {
        std::string at = indexed(e.path, "relationship", i);
        const Value* rv = r_.objectAt(*rels, i, at);
        if (rv == nullptr) return;
        Code code;
        r_.conceptBody(*rv, at, code, nullptr);
        if (code.system.value == "http://terminology.hl7.org/CodeSystem/v2-0131") {
          if (c.role.empty()) c.role = code.code;
        } else if (c.relationship.empty()) {
          if (code.system.value == "http://terminology.hl7.org/CodeSystem/v2-0063") code.system = {};
          c.relationship = std::move(code);
        }
      }
    }
    std::vector<Name> names;
    readNames(v, e.path, names);
    if (!names.empty()) c.name = std::move(names.front());
    readTelecoms(v, e.path, c.telecoms);
    readAddresses(v, e.path, c.addresses);
    c.sex = r_.string(v, "gender", e.path);
    mapValue(c.sex, kGender);
    c.birth_date = r_.dateTime(v, "birthDate", e.path);
    if (const Value* period = r_.object(v, "period", e.path)) {
      c.start = r_.dateTime(*period, "start", child(e.path, "period"));
      c.end = r_.dateTime(*period, "end", child(e.path, "period"));
    }
  }

  // Account.guarantor[] → guarantors: the party is the Patient (self) or a RelatedPerson.
  void readAccount(const EntryRef& e) {
    const Value& v = *e.resource;
    Identifier number;
    if (const Value* ids = r_.array(v, "identifier", e.path)) {
      if (ids->Size() > 0) {
        std::string at = indexed(e.path, "identifier", 0);
        if (const Value* idv = r_.objectAt(*ids, 0, at)) {
          number.value = r_.string(*idv, "value", at);
          number.type = r_.conceptCode(*idv, "type", at);
        }
      }
    }
    const Value* list = r_.array(v, "guarantor", e.path);
    if (list == nullptr) return;
    for (size_t i = 0; i < list->Size(); ++i) {
      std::string at = indexed(e.path, "guarantor", i);
      const Value* gv = r_.objectAt(*list, i, at);
      if (gv == nullptr) return;
      Guarantor g;
      g.source_segment = list->Size() == 1 ? e.path : at;
      g.number = number;
      int party = resolve(*gv, "party", at);
      if (party >= 0 && entries_[static_cast<size_t>(party)].type == "RelatedPerson") {
        guarantor_entries_.insert(static_cast<size_t>(party));
        readRelatedPerson(entries_[static_cast<size_t>(party)], g.person);
      } else if (party >= 0 && entries_[static_cast<size_t>(party)].type == "Patient") {
        g.is_patient = true;
        g.person.relationship.code = {"SEL", child(at, "party")};
      }
      g.person.source_segment = g.source_segment;
      if (const Value* period = r_.object(*gv, "period", at)) {
        g.person.start = r_.dateTime(*period, "start", child(at, "period"));
        g.person.end = r_.dateTime(*period, "end", child(at, "period"));
      }
      rec_.guarantors.push_back(std::move(g));
    }
  }

  void readAllergy(const EntryRef& e) {
    const Value& v = *e.resource;
    Allergy a;
    a.source_segment = e.path;
    a.allergen = r_.codeable(v, "code", e.path);
    if (a.allergen.empty()) return;
    if (!a.allergen.system.empty()) a.allergen.system.value.assign(hl7SystemFor(a.allergen.system.value));
    std::vector<Sourced> categories;
    stringList(v, "category", e.path, categories);
    if (!categories.empty()) {
      a.type = categories.front();
      mapValue(a.type, kAllergyCategory);
    }
    Sourced criticality = r_.string(v, "criticality", e.path);
    if (criticality.value == "high") a.severity = {"SV", criticality.source};
    else if (criticality.value == "unable-to-assess") a.severity = {"U", criticality.source};
    a.onset = r_.dateTime(v, "onsetDateTime", e.path);
    if (const Value* reactions = r_.array(v, "reaction", e.path)) {
      for (size_t i = 0; i < reactions->Size(); ++i) {
        std::string at = indexed(e.path, "reaction", i);
        const Value* rv = r_.objectAt(*reactions, i, at);
        if (rv == nullptr) return;
        Sourced severity = r_.string(*rv, "severity", at);
        mapValue(severity, kReactionSeverity);
        if (!severity.empty()) a.severity = std::move(severity);
        const Value* list = r_.array(*rv, "manifestation", at);
        if (list == nullptr) continue;
        for (size_t k = 0; k < list->Size(); ++k) {
          std::string mat = indexed(at, "manifestation", k);
          const Value* mv = r_.objectAt(*list, k, mat);
          if (mv == nullptr) return;
          Code m;
          Sourced text;
          r_.conceptBody(*mv, mat, m, &text);
          Sourced shown = !text.empty() ? text : !m.display.empty() ? m.display : m.code;
          if (!shown.empty()) a.reactions.push_back(std::move(shown));
        }
      }
    }
    rec_.allergies.push_back(std::move(a));
  }

  void readNames(const Value& obj, std::string_view path, std::vector<Name>& out) {
    if (const Value* names = r_.array(obj, "name", path)) {
      for (size_t i = 0; i < names->Size(); ++i) {
        std::string at = indexed(path, "name", i);
        const Value* nv = r_.objectAt(*names, i, at);
        if (nv == nullptr) return;
        Name n;
        n.family = r_.string(*nv, "family", at);
        stringList(*nv, "given", at, n.given);
        std::vector<Sourced> more;
        stringList(*nv, "prefix", at, more);
        if (!more.empty()) n.prefix = std::move(more.front());
        more.clear();
        stringList(*nv, "suffix", at, more);
        if (!more.empty()) n.suffix = std::move(more.front());
        n.use = r_.string(*nv, "use", at);
        mapValue(n.use, kNameUse);
        if (n.family.empty() && n.given.empty()) continue;
        out.push_back(std::move(n));
      }
    }
  }

  void readAddresses(const Value& obj, std::string_view path, std::vector<Address>& out) {
    if (const Value* addrs = r_.array(obj, "address", path)) {
      for (size_t i = 0; i < addrs->Size(); ++i) {
        std::string at = indexed(path, "address", i);
        const Value* av = r_.objectAt(*addrs, i, at);
        if (av == nullptr) return;
        Address a;
        stringList(*av, "line", at, a.lines);
        a.city = r_.string(*av, "city", at);
        a.state = r_.string(*av, "state", at);
        a.postal_code = r_.string(*av, "postalCode", at);
        a.country = r_.string(*av, "country", at);
        a.use = r_.string(*av, "use", at);
        mapValue(a.use, kAddressUse);
        if (a.use.empty()) {
          Sourced type = r_.string(*av, "type", at);
          if (type.value == "postal") a.use = {"M", type.source};
        }
        if (a.lines.empty() && a.city.empty() && a.state.empty() && a.postal_code.empty()) continue;
        out.push_back(std::move(a));
      }
    }
  }

  void readTelecoms(const Value& obj, std::string_view path, std::vector<Telecom>& out) {
    if (const Value* tels = r_.array(obj, "telecom", path)) {
      for (size_t i = 0; i < tels->Size(); ++i) {
        std::string at = indexed(path, "telecom", i);
        const Value* tv = r_.objectAt(*tels, i, at);
        if (tv == nullptr) return;
        Telecom t;
        t.value = r_.string(*tv, "value", at);
        if (t.value.empty()) continue;
        t.equipment = r_.string(*tv, "system", at);
        mapValue(t.equipment, kTelecomSystem);
        t.use = r_.string(*tv, "use", at);
        if (t.use.value == "mobile") t.equipment = {"CP", t.use.source};
        mapValue(t.use, kTelecomUse);
        out.push_back(std::move(t));
      }
    }
  }

  void stringList(const Value& obj, std::string_view key, std::string_view path, std::vector<Sourced>& out) {
    const Value* list = r_.array(obj, key, path);
    if (list == nullptr) return;
    for (size_t i = 0; i < list->Size(); ++i) {
      const Value& v = (*list)[static_cast<rapidjson::SizeType>(i)];
      std::string at(path);
      at.append(".").append(key).append("[").append(std::to_string(i)).append("]");
      if (!v.IsString()) {
        r_.fail(std::move(at), "must be a JSON string");
        return;
      }
      if (v.GetStringLength() == 0) continue;
      out.push_back({std::string(view(v)), std::move(at)});
    }
  }

  Practitioner practitionerAt(int index) {
    Practitioner p;
    if (index < 0) return p;
    const EntryRef& e = entries_[static_cast<size_t>(index)];
    if (e.type != "Practitioner") return p;
    const Value& v = *e.resource;
    if (const Value* ids = r_.array(v, "identifier", e.path)) {
      if (ids->Size() > 0) {
        std::string at = indexed(e.path, "identifier", 0);
        if (const Value* idv = r_.objectAt(*ids, 0, at)) p.id = r_.string(*idv, "value", at);
      }
    }
    if (p.id.empty()) p.id = r_.string(v, "id", e.path);
    if (const Value* names = r_.array(v, "name", e.path)) {
      if (names->Size() > 0) {
        std::string at = indexed(e.path, "name", 0);
        if (const Value* nv = r_.objectAt(*names, 0, at)) {
          p.family = r_.string(*nv, "family", at);
          std::vector<Sourced> given;
          stringList(*nv, "given", at, given);
          if (!given.empty()) p.given = std::move(given.front());
        }
      }
    }
    return p;
  }

  void readEncounter(const EntryRef& e) {
    const Value& v = *e.resource;
    Encounter& out = rec_.encounter;
    out.source_segment = e.path;
    if (const Value* cls = r_.object(v, "class", e.path)) {
      Code c = r_.coding(*cls, child(e.path, "class"));
      out.patient_class = c.code;
      mapValue(out.patient_class, kEncounterClass);
    }
    if (const Value* ids = r_.array(v, "identifier", e.path)) {
      for (size_t i = 0; i < ids->Size() && out.visit_number.empty(); ++i) {
        std::string at = indexed(e.path, "identifier", i);
        if (const Value* idv = r_.objectAt(*ids, i, at)) out.visit_number = r_.string(*idv, "value", at);
      }
    }
    if (const Value* period = r_.object(v, "period", e.path)) {
      std::string base = child(e.path, "period");
      out.admit_time = r_.dateTime(*period, "start", base);
      out.discharge_time = r_.dateTime(*period, "end", base);
    }
    out.hospital_service = r_.conceptCode(v, "serviceType", e.path);
    if (const Value* hosp = r_.object(v, "hospitalization", e.path)) {
      out.discharge_disposition = r_.conceptCode(*hosp, "dischargeDisposition", child(e.path, "hospitalization"));
      out.admission_type = r_.conceptCode(*hosp, "admitSource", child(e.path, "hospitalization"));
    }
    if (const Value* reasons = r_.array(v, "reasonCode", e.path)) {
      if (reasons->Size() > 0) {
        std::string at = indexed(e.path, "reasonCode", 0);
        if (const Value* rc = r_.objectAt(*reasons, 0, at)) {
          Code c;
          Sourced text;
          r_.conceptBody(*rc, at, c, &text);
          out.reason = text.empty() ? c.display : text;
        }
      }
    }
    if (const Value* locs = r_.array(v, "location", e.path)) {
      if (locs->Size() > 0) {
        std::string at = indexed(e.path, "location", 0);
        if (const Value* lv = r_.objectAt(*locs, 0, at)) {
          if (const Value* loc = r_.object(*lv, "location", at))
            out.location_point_of_care = r_.string(*loc, "display", child(at, "location"));
        }
      }
    }
    if (const Value* parts = r_.array(v, "participant", e.path)) {
      // The attender (ATND), else the first participant with an individual.
      int chosen = -1;
      for (size_t i = 0; i < parts->Size() && !r_.failed(); ++i) {
        std::string at = indexed(e.path, "participant", i);
        const Value* pv = r_.objectAt(*parts, i, at);
        if (pv == nullptr) break;
        bool attender = false;
        if (const Value* types = r_.array(*pv, "type", at)) {
          for (size_t k = 0; k < types->Size(); ++k) {
            std::string tat = indexed(at, "type", k);
            const Value* tv = r_.objectAt(*types, k, tat);
            if (tv == nullptr) break;
            Code c;
            r_.conceptBody(*tv, tat, c, nullptr);
            if (c.code.value == "ATND") attender = true;
          }
        }
        int target = resolve(*pv, "individual", at);
        if (target >= 0 && (chosen < 0 || attender)) chosen = target;
        if (attender && target >= 0) break;
      }
      out.attending = practitionerAt(chosen);
    }
    if (const Value* dx = r_.array(v, "diagnosis", e.path)) {
      for (size_t i = 0; i < dx->Size() && !r_.failed(); ++i) {
        std::string at = indexed(e.path, "diagnosis", i);
        const Value* dv = r_.objectAt(*dx, i, at);
        if (dv == nullptr) break;
        int target = resolve(*dv, "condition", at);
        auto it = condition_index_.find(static_cast<size_t>(target));
        if (target < 0 || it == condition_index_.end()) continue;
        Diagnosis& d = rec_.diagnoses[it->second];
        Sourced use = r_.conceptCode(*dv, "use", at);
        if (use.value == "AD") d.type = {"A", use.source};
        else if (use.value == "DD") d.type = {"F", use.source};
        else if (!use.empty()) d.type = use;
        Sourced rank = r_.string(*dv, "rank", at);
        if (!rank.empty()) d.rank = rank;
      }
    }
  }

  void readCondition(const EntryRef& e) {
    const Value& v = *e.resource;
    Diagnosis d;
    d.source_segment = e.path;
    d.code = r_.codeable(v, "code", e.path, &d.text);
    d.time = r_.dateTime(v, "recordedDate", e.path);
    if (d.time.empty()) d.time = r_.dateTime(v, "onsetDateTime", e.path);
    rec_.diagnoses.push_back(std::move(d));
  }

  void readProcedure(const EntryRef& e) {
    const Value& v = *e.resource;
    Procedure p;
    p.source_segment = e.path;
    p.code = r_.codeable(v, "code", e.path, &p.text);
    p.time = r_.dateTime(v, "performedDateTime", e.path);
    if (p.time.empty()) {
      if (const Value* period = r_.object(v, "performedPeriod", e.path))
        p.time = r_.dateTime(*period, "start", child(e.path, "performedPeriod"));
    }
    if (const Value* perf = r_.array(v, "performer", e.path)) {
      if (perf->Size() > 0) {
        std::string at = indexed(e.path, "performer", 0);
        if (const Value* pv = r_.objectAt(*perf, 0, at)) p.performer = practitionerAt(resolve(*pv, "actor", at));
      }
    }
    rec_.procedures.push_back(std::move(p));
  }

  void readOrder(const EntryRef& e, size_t entry_index) {
    const Value& v = *e.resource;
    Order o;
    o.source_segment = e.path;
    if (const Value* ids = r_.array(v, "identifier", e.path)) {
      for (size_t i = 0; i < ids->Size(); ++i) {
        std::string at = indexed(e.path, "identifier", i);
        const Value* idv = r_.objectAt(*ids, i, at);
        if (idv == nullptr) return;
        Sourced type = r_.conceptCode(*idv, "type", at);
        Sourced value = r_.string(*idv, "value", at);
        if (type.value == "FILL") o.filler_number = value;
        else if (o.placer_number.empty()) o.placer_number = value;
      }
    }
    o.status = r_.string(v, "status", e.path);
    mapValue(o.status, kRequestStatus);
    o.service = r_.codeable(v, "code", e.path);
    o.time = r_.dateTime(v, "occurrenceDateTime", e.path);
    order_index_[entry_index] = rec_.orders.size() + 1;
    rec_.orders.push_back(std::move(o));
  }

  // value[x], units and comparator of an Observation or one of its components.
  void readValue(const Value& v, const std::string& path, Observation& o) {
    if (const Value* q = r_.object(v, "valueQuantity", path)) {
      std::string base = child(path, "valueQuantity");
      o.value = r_.string(*q, "value", base);
      Sourced comparator = r_.string(*q, "comparator", base);
      o.value_type = {comparator.empty() ? "NM" : "SN", o.value.source};
      if (!comparator.empty()) o.value.value = comparator.value + o.value.value;
      o.units.code = r_.string(*q, "code", base);
      o.units.display = r_.string(*q, "unit", base);
      o.units.system = r_.string(*q, "system", base);
      if (!o.units.system.empty()) o.units.system.value.assign(hl7SystemFor(o.units.system.value));
      if (o.units.code.empty()) o.units.code = o.units.display;
      return;
    }
    if (const Value* cc = r_.object(v, "valueCodeableConcept", path)) {
      r_.conceptBody(*cc, child(path, "valueCodeableConcept"), o.coded_value, nullptr);
      o.value = o.coded_value.code.empty() ? o.coded_value.display : o.coded_value.code;
      o.value_type = {"CWE", o.value.source};
      return;
    }
    struct Kind {
      std::string_view key;
      std::string_view type;
    };
    static constexpr std::array<Kind, 5> kKinds = {{{"valueString", "ST"},
                                                    {"valueDateTime", "DTM"},
                                                    {"valueInteger", "NM"},
                                                    {"valueBoolean", "ST"},
                                                    {"valueTime", "TM"}}};
    for (const Kind& k : kKinds) {
      Sourced s = k.key == "valueDateTime" ? r_.dateTime(v, k.key, path) : r_.string(v, k.key, path);
      if (s.empty()) continue;
      std::string_view type = k.type;
      if (type == "ST" && s.value.find('\n') != std::string::npos) type = "TX";
      o.value_type = {std::string(type), s.source};
      o.value = std::move(s);
      return;
    }
  }

  // True (and `o` filled) when every component has o's code and a value.
  bool readRepeats(const Value& comps, const std::string& path, Observation& o) {
    if (comps.Size() < 2 || o.code.code.empty()) return false;
    std::vector<Observation> values;
    for (size_t i = 0; i < comps.Size(); ++i) {
      std::string at = indexed(path, "component", i);
      const Value* cv = r_.objectAt(comps, i, at);
      if (cv == nullptr) return false;
      Code code = r_.codeable(*cv, "code", at);
      if (code.code.value != o.code.code.value || code.system.value != o.code.system.value) return false;
      Observation one;
      readValue(*cv, at, one);
      if (one.value.empty()) return false;
      values.push_back(std::move(one));
    }
    o.value_type = values.front().value_type;
    o.value = std::move(values.front().value);
    o.coded_value = std::move(values.front().coded_value);
    o.units = std::move(values.front().units);
    const bool coded = !o.coded_value.empty();
    for (size_t i = 1; i < values.size(); ++i) {
      o.repeats.push_back(std::move(values[i].value));
      if (coded) o.coded_repeats.push_back(std::move(values[i].coded_value));
    }
    return true;
  }

  void readObservation(const EntryRef& e) {
    const Value& v = *e.resource;
    Observation o;
    o.source_segment = e.path;
    o.code = r_.codeable(v, "code", e.path);
    o.status = r_.string(v, "status", e.path);
    mapValue(o.status, kObservationStatus);
    o.effective_time = r_.dateTime(v, "effectiveDateTime", e.path);
    if (o.effective_time.empty()) {
      if (const Value* period = r_.object(v, "effectivePeriod", e.path))
        o.effective_time = r_.dateTime(*period, "start", child(e.path, "effectivePeriod"));
    }
    if (o.effective_time.empty()) o.effective_time = r_.dateTime(v, "effectiveInstant", e.path);
    readValue(v, e.path, o);
    if (const Value* interp = r_.array(v, "interpretation", e.path)) {
      if (interp->Size() > 0) {
        std::string at = indexed(e.path, "interpretation", 0);
        if (const Value* iv = r_.objectAt(*interp, 0, at)) {
          Code c;
          r_.conceptBody(*iv, at, c, nullptr);
          o.abnormal_flag = c.code;
        }
      }
    }
    if (const Value* ranges = r_.array(v, "referenceRange", e.path)) {
      if (ranges->Size() > 0) {
        std::string at = indexed(e.path, "referenceRange", 0);
        if (const Value* rv = r_.objectAt(*ranges, 0, at)) {
          o.reference_range = r_.string(*rv, "text", at);
          if (o.reference_range.empty()) {
            Sourced low, high;
            if (const Value* l = r_.object(*rv, "low", at)) low = r_.string(*l, "value", child(at, "low"));
            if (const Value* h = r_.object(*rv, "high", at)) high = r_.string(*h, "value", child(at, "high"));
            if (!low.empty() || !high.empty())
              o.reference_range = {low.value + "-" + high.value, low.empty() ? high.source : low.source};
          }
        }
      }
    }
    if (const Value* based = r_.array(v, "basedOn", e.path)) {
      if (based->Size() > 0) {
        std::string at = indexed(e.path, "basedOn", 0);
        if (r_.objectAt(*based, 0, at) != nullptr) {
          // basedOn[0] is itself the Reference.
          const Value& ref = (*based)[0];
          Sourced target = r_.string(ref, "reference", at);
          auto it = by_url_.find(target.value);
          if (it != by_url_.end()) {
            auto ord = order_index_.find(it->second);
            if (ord != order_index_.end()) o.order_index = static_cast<int>(ord->second);
          }
        }
      }
    }
    if (o.order_index > 0) o.order_code_text = rec_.orders[static_cast<size_t>(o.order_index - 1)].service.display;
    const Value* comps = r_.array(v, "component", e.path);
    bool has_value = !o.value.empty();
    // Components that all carry the Observation's own code are the repetitions of one
    // value (how to_fhir.h writes OBX-5 `~`): one observation again.
    if (comps != nullptr && !has_value && readRepeats(*comps, e.path, o)) {
      rec_.observations.push_back(std::move(o));
      return;
    }
    if (!o.code.empty() || has_value || comps == nullptr) rec_.observations.push_back(o);
    if (comps == nullptr) return;
    for (size_t i = 0; i < comps->Size() && !r_.failed(); ++i) {
      std::string at = indexed(e.path, "component", i);
      const Value* cv = r_.objectAt(*comps, i, at);
      if (cv == nullptr) return;
      Observation c;
      c.source_segment = at;
      c.code = r_.codeable(*cv, "code", at);
      readValue(*cv, at, c);
      c.status = o.status;
      c.effective_time = o.effective_time;
      c.order_index = o.order_index;
      rec_.observations.push_back(std::move(c));
    }
  }

  void readImmunization(const EntryRef& e) {
    const Value& v = *e.resource;
    Immunization im;
    im.source_segment = e.path;
    im.vaccine = r_.codeable(v, "vaccineCode", e.path);
    im.time = r_.dateTime(v, "occurrenceDateTime", e.path);
    if (im.time.empty()) im.time = r_.string(v, "occurrenceString", e.path);
    im.lot = r_.string(v, "lotNumber", e.path);
    im.expiration = r_.dateTime(v, "expirationDate", e.path);
    if (const Value* m = r_.object(v, "manufacturer", e.path)) im.manufacturer.display = r_.string(*m, "display", child(e.path, "manufacturer"));
    Sourced status = r_.string(v, "status", e.path);
    if (status.value == "completed") im.completion_status = {"CP", status.source};
    else if (status.value == "not-done") im.completion_status = {"RE", status.source};
    if (const Value* dose = r_.object(v, "doseQuantity", e.path)) {
      std::string base = child(e.path, "doseQuantity");
      im.dose = r_.string(*dose, "value", base);
      im.dose_units = r_.string(*dose, "unit", base);
      if (im.dose_units.empty()) im.dose_units = r_.string(*dose, "code", base);
    }
    im.site = r_.codeable(v, "site", e.path);
    im.route = r_.codeable(v, "route", e.path);
    rec_.immunizations.push_back(std::move(im));
  }

  void readCoverage(const EntryRef& e) {
    const Value& v = *e.resource;
    Coverage c;
    c.source_segment = e.path;
    c.member_id = r_.string(v, "subscriberId", e.path);
    if (c.member_id.empty()) {
      if (const Value* ids = r_.array(v, "identifier", e.path)) {
        if (ids->Size() > 0) {
          std::string at = indexed(e.path, "identifier", 0);
          if (const Value* idv = r_.objectAt(*ids, 0, at)) c.member_id = r_.string(*idv, "value", at);
        }
      }
    }
    c.relationship = r_.conceptCode(v, "relationship", e.path);
    mapValue(c.relationship, kRelationship);
    if (const Value* period = r_.object(v, "period", e.path)) {
      std::string base = child(e.path, "period");
      c.start = r_.dateTime(*period, "start", base);
      c.end = r_.dateTime(*period, "end", base);
    }
    if (const Value* payors = r_.array(v, "payor", e.path)) {
      if (payors->Size() > 0) {
        std::string at = indexed(e.path, "payor", 0);
        if (r_.objectAt(*payors, 0, at) != nullptr) {
          const Value& ref = (*payors)[0];
          c.payer_name = r_.string(ref, "display", at);
          Sourced target = r_.string(ref, "reference", at);
          auto it = by_url_.find(target.value);
          if (it != by_url_.end()) {
            const EntryRef& org = entries_[it->second];
            Sourced name = r_.string(*org.resource, "name", org.path);
            if (!name.empty()) c.payer_name = name;
            if (const Value* ids = r_.array(*org.resource, "identifier", org.path)) {
              if (ids->Size() > 0) {
                std::string iat = indexed(org.path, "identifier", 0);
                if (const Value* idv = r_.objectAt(*ids, 0, iat)) c.payer_id = r_.string(*idv, "value", iat);
              }
            }
          }
        }
      }
    }
    if (const Value* classes = r_.array(v, "class", e.path)) {
      for (size_t i = 0; i < classes->Size(); ++i) {
        std::string at = indexed(e.path, "class", i);
        const Value* cv = r_.objectAt(*classes, i, at);
        if (cv == nullptr) return;
        Sourced type = r_.conceptCode(*cv, "type", at);
        if (type.value == "group" && c.group_number.empty()) {
          c.group_number = r_.string(*cv, "value", at);
        } else if (type.value == "plan" && c.plan.code.empty()) {
          c.plan.code = r_.string(*cv, "value", at);
          c.plan.display = r_.string(*cv, "name", at);
        }
      }
    }
    rec_.coverages.push_back(std::move(c));
  }

  void readClaim(const EntryRef& e) {
    const Value& v = *e.resource;
    if (const Value* dx = r_.array(v, "diagnosis", e.path)) {
      for (size_t i = 0; i < dx->Size(); ++i) {
        std::string at = indexed(e.path, "diagnosis", i);
        const Value* dv = r_.objectAt(*dx, i, at);
        if (dv == nullptr) return;
        if (Reader::member(*dv, "diagnosisCodeableConcept") == nullptr) continue;  // references: read as Conditions
        Diagnosis d;
        d.source_segment = at;
        d.code = r_.codeable(*dv, "diagnosisCodeableConcept", at, &d.text);
        d.rank = r_.string(*dv, "sequence", at);
        if (const Value* types = r_.array(*dv, "type", at)) {
          if (types->Size() > 0) {
            std::string tat = indexed(at, "type", 0);
            if (const Value* tv = r_.objectAt(*types, 0, tat)) {
              Code c;
              r_.conceptBody(*tv, tat, c, nullptr);
              d.type = c.code;
              if (d.type.value == "admitting") d.type.value = "A";
              else if (d.type.value == "discharge" || d.type.value == "principal") d.type.value = "F";
            }
          }
        }
        d.present_on_admission = r_.conceptCode(*dv, "onAdmission", at);
        rec_.diagnoses.push_back(std::move(d));
      }
    }
    if (const Value* px = r_.array(v, "procedure", e.path)) {
      for (size_t i = 0; i < px->Size(); ++i) {
        std::string at = indexed(e.path, "procedure", i);
        const Value* pv = r_.objectAt(*px, i, at);
        if (pv == nullptr) return;
        if (Reader::member(*pv, "procedureCodeableConcept") == nullptr) continue;
        Procedure p;
        p.source_segment = at;
        p.code = r_.codeable(*pv, "procedureCodeableConcept", at, &p.text);
        p.time = r_.dateTime(*pv, "date", at);
        rec_.procedures.push_back(std::move(p));
      }
    }
    Sourced created = r_.dateTime(v, "created", e.path);
    if (const Value* items = r_.array(v, "item", e.path)) {
      for (size_t i = 0; i < items->Size(); ++i) {
        std::string at = indexed(e.path, "item", i);
        const Value* iv = r_.objectAt(*items, i, at);
        if (iv == nullptr) return;
        Charge c;
        c.source_segment = at;
        c.hcpcs = r_.codeable(*iv, "productOrService", at);
        c.chargemaster = r_.codeable(*iv, "revenue", at);
        if (const Value* mods = r_.array(*iv, "modifier", at)) {
          for (size_t k = 0; k < mods->Size(); ++k) {
            std::string mat = indexed(at, "modifier", k);
            const Value* mv = r_.objectAt(*mods, k, mat);
            if (mv == nullptr) return;
            Code m;
            r_.conceptBody(*mv, mat, m, nullptr);
            if (!m.code.empty()) c.modifiers.push_back(m.code);
          }
        }
        if (const Value* q = r_.object(*iv, "quantity", at)) c.quantity = r_.string(*q, "value", child(at, "quantity"));
        if (const Value* net = r_.object(*iv, "net", at)) c.amount = r_.string(*net, "value", child(at, "net"));
        if (c.amount.empty()) {
          if (const Value* up = r_.object(*iv, "unitPrice", at)) c.amount = r_.string(*up, "value", child(at, "unitPrice"));
        }
        c.transaction_date = r_.dateTime(*iv, "servicedDate", at);
        if (c.transaction_date.empty()) {
          if (const Value* period = r_.object(*iv, "servicedPeriod", at))
            c.transaction_date = r_.dateTime(*period, "start", child(at, "servicedPeriod"));
        }
        if (c.transaction_date.empty()) c.transaction_date = created;
        c.transaction_type = {"CG", c.hcpcs.code.source};
        rec_.charges.push_back(std::move(c));
      }
    }
  }

  void readChargeItem(const EntryRef& e) {
    const Value& v = *e.resource;
    Charge c;
    c.source_segment = e.path;
    if (const Value* code = r_.object(v, "code", e.path)) {
      std::string base = child(e.path, "code");
      if (const Value* codings = r_.array(*code, "coding", base)) {
        for (size_t i = 0; i < codings->Size(); ++i) {
          std::string at = indexed(base, "coding", i);
          const Value* cv = r_.objectAt(*codings, i, at);
          if (cv == nullptr) return;
          Code one = r_.coding(*cv, at);
          const std::string& s = one.system.value;
          bool procedure_code = s == "C4" || s == "HCPCS";
          if (procedure_code && c.hcpcs.code.empty()) c.hcpcs = std::move(one);
          else if (c.chargemaster.code.empty()) c.chargemaster = std::move(one);
        }
      }
    }
    Sourced status = r_.string(v, "status", e.path);
    c.transaction_type = {status.value == "not-billable" ? "CD" : "CG", status.source};
    if (status.empty()) c.transaction_type = {};
    c.transaction_date = r_.dateTime(v, "occurrenceDateTime", e.path);
    if (const Value* q = r_.object(v, "quantity", e.path)) c.quantity = r_.string(*q, "value", child(e.path, "quantity"));
    if (const Value* p = r_.object(v, "priceOverride", e.path)) c.amount = r_.string(*p, "value", child(e.path, "priceOverride"));
    if (const Value* reasons = r_.array(v, "reason", e.path)) {
      for (size_t i = 0; i < reasons->Size(); ++i) {
        std::string at = indexed(e.path, "reason", i);
        const Value* rv = r_.objectAt(*reasons, i, at);
        if (rv == nullptr) return;
        Code d;
        r_.conceptBody(*rv, at, d, nullptr);
        if (!d.empty()) c.diagnoses.push_back(std::move(d));
      }
    }
    if (const Value* exts = r_.array(v, "extension", e.path)) {
      for (size_t i = 0; i < exts->Size(); ++i) {
        std::string at = indexed(e.path, "extension", i);
        const Value* xv = r_.objectAt(*exts, i, at);
        if (xv == nullptr) return;
        Sourced url = r_.string(*xv, "url", at);
        if (url.value != "urn:courier:fhir:extension:procedure-modifier") continue;
        Sourced m = r_.string(*xv, "valueCode", at);
        if (!m.empty()) c.modifiers.push_back(std::move(m));
      }
    }
    rec_.charges.push_back(std::move(c));
  }

  void readDocument(const EntryRef& e) {
    const Value& v = *e.resource;
    Document d;
    d.source_segment = e.path;
    if (const Value* mi = r_.object(v, "masterIdentifier", e.path)) d.unique_id = r_.string(*mi, "value", child(e.path, "masterIdentifier"));
    d.status = r_.string(v, "docStatus", e.path);
    mapValue(d.status, kDocStatus);
    if (const Value* type = r_.object(v, "type", e.path)) {
      Code c;
      Sourced text;
      r_.conceptBody(*type, child(e.path, "type"), c, &text);
      d.type = text.empty() ? (c.display.empty() ? c.code : c.display) : text;
    }
    d.time = r_.dateTime(v, "date", e.path);
    if (const Value* content = r_.array(v, "content", e.path)) {
      for (size_t i = 0; i < content->Size() && d.text_source.empty(); ++i) {
        std::string at = indexed(e.path, "content", i);
        const Value* cv = r_.objectAt(*content, i, at);
        if (cv == nullptr) return;
        const Value* att = r_.object(*cv, "attachment", at);
        if (att == nullptr) continue;
        std::string base = child(at, "attachment");
        Sourced type = r_.string(*att, "contentType", base);
        if (!type.empty() && type.value.rfind("text/", 0) != 0) continue;  // binary documents stay out
        Sourced data = r_.string(*att, "data", base);
        if (data.empty()) continue;
        std::string text;
        if (!decodeBase64(data.value, text)) {
          r_.fail(data.source, "is not base64");
          return;
        }
        d.text = std::move(text);
        d.text_source = data.source;
      }
    }
    rec_.documents.push_back(std::move(d));
  }

  CanonicalRecord& rec_;
  Reader r_;
  std::vector<EntryRef> entries_;
  std::unordered_map<std::string, size_t> by_url_;            // fullUrl and Type/id → entry
  std::unordered_map<size_t, size_t> condition_index_;        // entry → diagnoses index
  std::unordered_map<size_t, size_t> order_index_;            // entry → 1-based orders index
  std::unordered_set<size_t> guarantor_entries_;              // RelatedPersons read as guarantors
  int encounter_entry_ = -1;
};

bool isDigits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

}  // namespace

std::string fhirToHl7DateTime(std::string_view v) {
  // YYYY[-MM[-DD[Thh:mm[:ss[.fff]](Z|+hh:mm|-hh:mm)]]]
  std::string out;
  auto bad = [&] { return std::string(v); };
  if (v.size() < 4 || !isDigits(v.substr(0, 4))) return bad();
  out.append(v.substr(0, 4));
  size_t i = 4;
  for (int part = 0; part < 2 && i < v.size(); ++part) {
    if (v[i] != '-' || i + 3 > v.size() || !isDigits(v.substr(i + 1, 2))) return bad();
    out.append(v.substr(i + 1, 2));
    i += 3;
  }
  if (i == v.size()) return out;
  if (v[i] != 'T' || out.size() != 8 || i + 6 > v.size()) return bad();
  ++i;
  if (!isDigits(v.substr(i, 2)) || v[i + 2] != ':' || !isDigits(v.substr(i + 3, 2))) return bad();
  out.append(v.substr(i, 2)).append(v.substr(i + 3, 2));
  i += 5;
  if (i < v.size() && v[i] == ':') {
    if (i + 3 > v.size() || !isDigits(v.substr(i + 1, 2))) return bad();
    out.append(v.substr(i + 1, 2));
    i += 3;
    if (i < v.size() && v[i] == '.') {
      size_t start = i++;
      while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
      if (i == start + 1) return bad();
      out.append(v.substr(start, i - start));
    }
  }
  if (i == v.size()) return out;  // a time without zone (not valid FHIR, but keep it)
  if (v[i] == 'Z' && i + 1 == v.size()) return out + "+0000";
  if ((v[i] == '+' || v[i] == '-') && i + 6 == v.size() && isDigits(v.substr(i + 1, 2)) && v[i + 3] == ':' &&
      isDigits(v.substr(i + 4, 2))) {
    out += v[i];
    out.append(v.substr(i + 1, 2)).append(v.substr(i + 4, 2));
    return out;
  }
  return bad();
}

std::string_view hl7SystemFor(std::string_view uri) {
  static constexpr std::array<Pair, 12> kNames = {{
      {"http://loinc.org", "LN"},
      {"http://snomed.info/sct", "SCT"},
      {"http://hl7.org/fhir/sid/icd-10-cm", "I10"},
      {"http://www.cms.gov/Medicare/Coding/ICD10", "I10P"},
      {"http://hl7.org/fhir/sid/icd-9-cm", "I9C"},
      {"http://www.ama-assn.org/go/cpt", "C4"},
      {"urn:oid:2.16.840.1.113883.6.285", "HCPCS"},
      {"https://bluebutton.cms.gov/resources/codesystem/hcpcs", "HCPCS"},
      {"http://hl7.org/fhir/sid/cvx", "CVX"},
      {"http://terminology.hl7.org/CodeSystem/MVX", "MVX"},
      {"http://unitsofmeasure.org", "UCUM"},
      {"http://www.nlm.nih.gov/research/umls/rxnorm", "RXNORM"},
  }};
  std::string_view name = lookup(kNames, uri);
  return name.empty() ? uri : name;
}

Result<CanonicalRecord> fromFhirJson(std::string_view json, size_t* consumed) {
  rapidjson::Document doc;
  rapidjson::MemoryStream ms(json.data(), json.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  if (consumed != nullptr) {
    doc.ParseStream<kParseFlags | rapidjson::kParseStopWhenDoneFlag, rapidjson::UTF8<>>(is);
  } else {
    doc.ParseStream<kParseFlags, rapidjson::UTF8<>>(is);
  }
  if (doc.HasParseError()) {
    return Unexpected(Error(ErrorCode::kParse, std::string("invalid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()),
                            "offset " + std::to_string(doc.GetErrorOffset())));
  }
  if (consumed != nullptr) *consumed = is.Tell();
  CanonicalRecord rec;
  Converter conv(rec);
  Result<void> done = conv.run(doc);
  if (!done) return Unexpected(std::move(done).error());
  if (rec.message_id.empty()) {
    fhir::Hash128 h = fhir::hash128(consumed != nullptr ? json.substr(0, *consumed) : json);
    rec.content_hash = std::to_string(h.hi) + "-" + std::to_string(h.lo);
  }
  return rec;
}

}  // namespace courier::record
