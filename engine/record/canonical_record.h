// CanonicalRecord: one message's clinical content, whatever format it came in.
//
// Plain structs, no behaviour: a converter fills them (from_hl7v2.h), a writer
// turns them into FHIR R4 (to_fhir.h) or into the record's own JSON
// (record_json.h). Every value is a Sourced: the decoded text plus where it was
// read (`PID-3[2].1`, `DG1[2]-3.1`), so that an operator can always trace a
// value of the record back to the byte range of the input it came from.
//
// Dates and times are kept as written in the source (HL7 DTM); the FHIR writer
// converts them. Empty strings mean "absent".
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "engine/record/text.h"

namespace courier::record {

// Where a value was read: an HL7 v2 path (`DG1[2]-3.1`) or any other text (a FHIR
// path). An HL7 path is kept as its numbers and written as text only when read
// (str()): a message yields a few hundred values and hardly any source is ever
// looked at, so building each path's text was a large part of converting one.
class Source {
 public:
  Source() noexcept : text_(nullptr) {}
  Source(std::string text)
      : text_(text.empty() ? nullptr : new std::string(std::move(text))) {}  // NOLINT: FHIR paths are built as strings
  Source(const char* text) : Source(std::string(text)) {}                    // NOLINT
  Source(const Source& o) : field_(o.field_), rep_(o.rep_), is_hl7_(o.is_hl7_) {
    if (is_hl7_)
      path_ = o.path_;
    else
      text_ = o.text_ != nullptr ? new std::string(*o.text_) : nullptr;
  }
  Source(Source&& o) noexcept : field_(o.field_), rep_(o.rep_), is_hl7_(o.is_hl7_) {
    if (is_hl7_) {
      path_ = o.path_;
    } else {
      text_ = o.text_;
      o.text_ = nullptr;
    }
  }
  Source& operator=(const Source& o) {
    if (this != &o) *this = Source(o);
    return *this;
  }
  Source& operator=(Source&& o) noexcept {
    if (this != &o) {
      dropText();
      field_ = o.field_;
      rep_ = o.rep_;
      is_hl7_ = o.is_hl7_;
      if (is_hl7_) {
        path_ = o.path_;
      } else {
        text_ = o.text_;
        o.text_ = nullptr;
      }
    }
    return *this;
  }
  ~Source() { dropText(); }

  // `segment`[occurrence]-field[rep].component.sub, as hl7v2::Path writes it:
  // [occurrence] and [rep] only when not 1, .component and .sub only when > 0.
  // `segment` is a three-character id.
  static Source hl7(std::string_view segment, int occurrence, int field, int rep, int component, int sub) {
    Source s;
    s.setHl7(segment, occurrence, field, rep, component, sub);
    return s;
  }
  // Makes this Source that HL7 path, in place.
  [[gnu::always_inline]] void setHl7(std::string_view segment, int occurrence, int field, int rep, int component,
                                     int sub) {
    // One unsigned compare per number; anything larger than its packed width (or a
    // segment id of another length) is kept as text.
    if (static_cast<unsigned>(occurrence - 1) < 0xffff && static_cast<unsigned>(field) <= 0xffff &&
        static_cast<unsigned>(rep - 1) < 0xffff && static_cast<unsigned>(component) <= 0xff &&
        static_cast<unsigned>(sub) <= 0xff && segment.size() == 3) [[likely]] {
      dropText();
      path_.segment[0] = segment[0];
      path_.segment[1] = segment[1];
      path_.segment[2] = segment[2];
      path_.component = static_cast<uint8_t>(component);
      path_.sub = static_cast<uint8_t>(sub);
      path_.occurrence = static_cast<uint16_t>(occurrence);
      field_ = static_cast<uint16_t>(field);
      rep_ = static_cast<uint16_t>(rep);
      is_hl7_ = true;
      return;
    }
    setHl7Text(segment, occurrence, field, rep, component, sub);
  }

  bool empty() const { return !is_hl7_ && (text_ == nullptr || text_->empty()); }
  // The path as text.
  std::string str() const {
    if (!is_hl7_) return text_ != nullptr ? *text_ : std::string();
    return hl7Text(std::string_view(path_.segment, 3), path_.occurrence, field_, rep_, path_.component, path_.sub);
  }
  operator std::string() const { return str(); }  // NOLINT: where a path is text

  friend bool operator==(const Source& a, std::string_view b) { return a.str() == b; }
  friend std::string operator+(const Source& a, std::string_view b) { return a.str().append(b); }
  friend std::ostream& operator<<(std::ostream& os, const Source& s);

 private:
  static std::string hl7Text(std::string_view segment, int occurrence, int field, int rep, int component, int sub);
  // setHl7's rare case, out of line so that the common one stays small where it is inlined.
  void setHl7Text(std::string_view segment, int occurrence, int field, int rep, int component, int sub);
  void dropText() noexcept {
    if (!is_hl7_ && text_ != nullptr) [[unlikely]]
      deleteText();
  }
  [[gnu::noinline]] void deleteText() noexcept {
    delete text_;
    text_ = nullptr;
  }

  struct Path {
    char segment[3];
    uint8_t component;
    uint8_t sub;
    uint16_t occurrence;
  };
  // 16 bytes in all (a record holds a few hundred Sources): the text of a non-HL7
  // path (null when empty) shares its place with the HL7 path's leading numbers.
  union {
    std::string* text_;  // when !is_hl7_
    Path path_;          // when is_hl7_
  };
  uint16_t field_ = 0;
  uint16_t rep_ = 0;
  bool is_hl7_ = false;
};

// A value and where it came from.
struct Sourced {
  Text value;  // a view of the record's TextBuffer when read from HL7 v2 as sent
  Source source;  // HL7 path (`OBX[3]-5`) or FHIR path; empty when value is empty

  bool empty() const { return value.empty(); }
};

// A coded value (HL7 CWE/CE/CNE, FHIR Coding).
struct Code {
  Sourced code;
  Sourced display;
  Sourced system;  // the coding system as sent (HL7 table 0396 name, e.g. "LN", "I10") or a URI

  bool empty() const { return code.empty() && display.empty(); }
};

struct Identifier {
  Sourced value;
  Sourced type;                // HL7 table 0203 (MR, SS, PI, ...)
  Sourced assigning_authority; // CX-4.1 (namespace id) or CX-4.2 (universal id)
};

struct Name {
  Sourced family;
  std::vector<Sourced> given;  // first, then middle names
  Sourced prefix;
  Sourced suffix;
  Sourced use;                 // HL7 table 0200 (L, D, M, ...)
};

struct Address {
  std::vector<Sourced> lines;
  Sourced city;
  Sourced state;
  Sourced postal_code;
  Sourced country;
  Sourced use;  // HL7 table 0190 (H, B, M, ...)
};

struct Telecom {
  Sourced value;
  Sourced use;        // HL7 table 0201 (PRN, WPN, ...)
  Sourced equipment;  // HL7 table 0202 (PH, CP, Internet, ...)
};

struct Practitioner {
  Sourced id;
  Sourced family;
  Sourced given;
};

// A value a site maps from a Z-segment or local field (site_map.h) that has no
// element of its own: written to FHIR as an extension with this URL.
struct Extension {
  std::string url;
  Sourced value;
};

struct Patient {
  std::vector<Identifier> identifiers;
  std::vector<Name> names;
  Sourced birth_date;
  Sourced sex;  // HL7 table 0001 (M, F, O, U, A, N)
  std::vector<Address> addresses;
  std::vector<Telecom> telecoms;
  Sourced deceased;  // PID-30 (Y/N)
  Sourced death_time;
  std::vector<Extension> extensions;  // from site maps
  std::string source_segment;  // e.g. "PID"
};

struct Encounter {
  Sourced patient_class;  // HL7 table 0004 (I, O, E, P, R, B, ...)
  Sourced visit_number;   // PV1-19
  Sourced admit_time;     // PV1-44
  Sourced discharge_time; // PV1-45
  Sourced location_point_of_care;
  Sourced location_room;
  Sourced location_bed;
  Sourced location_facility;
  Sourced hospital_service;  // PV1-10
  Practitioner attending;    // PV1-7
  Sourced discharge_disposition;  // PV1-36
  Sourced admission_type;    // PV1-4
  Sourced reason;            // PV2-3 text
  std::vector<Extension> extensions;  // from site maps
  std::string source_segment;
};

struct Diagnosis {
  Code code;
  Sourced text;    // DG1-4
  Sourced type;    // DG1-6 (A admitting, W working, F final)
  Sourced rank;    // DG1-15 priority
  Sourced present_on_admission;  // DG1-26
  Sourced time;    // DG1-5
  std::string source_segment;  // "DG1[2]"
};

struct Procedure {
  Code code;
  Sourced text;
  Sourced time;
  Practitioner performer;
  std::string source_segment;
};

struct Observation {
  Code code;
  Sourced value_type;  // HL7 table 0125 (NM, ST, CWE, TX, SN, DT, TS, ...)
  Sourced value;       // text as sent; for coded values the code. ST/TX/FT repetitions
                       // are lines of one text, joined here with "\n".
  Code coded_value;    // filled when value_type is CE/CWE/CNE
  // OBX-5 repetitions after the first for the other types (NM, CWE, DT, SN, ...), each
  // with its own source (`OBX[2]-5[3]`); coded_repeats runs beside it for CE/CWE/CNE.
  std::vector<Sourced> repeats;
  std::vector<Code> coded_repeats;
  Code units;          // OBX-6: code (e.g. UCUM `mg/dL`), text, system
  Sourced reference_range;
  Sourced abnormal_flag;
  Sourced status;      // HL7 table 0085 (F, P, C, ...)
  Sourced effective_time;
  Sourced order_code_text;  // OBR-4 of the order it belongs to, when any
  int order_index = 0;      // 1-based index into CanonicalRecord::orders, 0 = none
  std::string source_segment;
};

// An order (ORC/OBR) carried by ORU, ORM, OML.
struct Order {
  Sourced placer_number;
  Sourced filler_number;
  Code service;  // OBR-4
  Sourced status;
  Sourced time;
  std::string source_segment;
};

struct Charge {
  Sourced transaction_date;   // FT1-4
  Sourced transaction_type;   // FT1-6 (CG, CD, PY, AJ)
  Code chargemaster;          // FT1-7
  Sourced quantity;           // FT1-10
  Sourced amount;             // FT1-11 (extended) or FT1-12 (unit)
  Code hcpcs;                 // FT1-25
  std::vector<Sourced> modifiers;  // FT1-26
  std::vector<Code> diagnoses;     // FT1-19
  std::string source_segment;
};

struct Immunization {
  Code vaccine;          // RXA-5 (CVX)
  Sourced time;          // RXA-3
  Sourced dose;          // RXA-6
  Sourced dose_units;    // RXA-7
  Sourced lot;           // RXA-15
  Sourced expiration;    // RXA-16
  Code manufacturer;     // RXA-17 (MVX)
  Sourced completion_status;  // RXA-20 (CP, RE, NA, PA)
  Code route;            // RXR-1
  Code site;             // RXR-2
  std::string source_segment;
};

struct Coverage {
  Code plan;                 // IN1-2
  Sourced payer_id;          // IN1-3
  Sourced payer_name;        // IN1-4
  Sourced group_number;      // IN1-8
  Sourced member_id;         // IN1-36 (policy number) or IN1-49
  Sourced subscriber_name;   // IN1-16 family
  Sourced relationship;      // IN1-17
  Sourced start;             // IN1-12
  Sourced end;               // IN1-13
  std::string source_segment;
};

// An appointment (SIU SCH).
struct Appointment {
  Sourced placer_id;
  Sourced filler_id;
  Code reason;
  Sourced start;
  Sourced end;
  Sourced status;
  std::string source_segment;
};

// A clinical document (MDM TXA + OBX text).
struct Document {
  Sourced type;
  Sourced status;
  Sourced time;
  Sourced unique_id;
  std::string text;  // OBX-5 lines joined with "\n"
  std::string text_source;
  std::string source_segment;
};

// A person related to the patient: next of kin or contact (NK1), or the
// guarantor's person (GT1).
struct Contact {
  Name name;
  Code relationship;     // NK1-3 / GT1-11: HL7 table 0063 (SPO, CHD, MTH, SEL, ...)
  Sourced role;          // NK1-7: HL7 table 0131 (C emergency contact, N next of kin, E employer, ...)
  std::vector<Address> addresses;
  std::vector<Telecom> telecoms;
  Sourced sex;           // HL7 table 0001
  Sourced birth_date;
  Sourced start;         // NK1-8 / GT1-13
  Sourced end;           // NK1-9 / GT1-14
  Sourced organization;  // NK1-13.1 / GT1-16 (employer) name
  std::string source_segment;  // "NK1[2]"

  bool empty() const { return name.family.empty() && name.given.empty() && relationship.empty() && organization.empty(); }
};

// An allergy or intolerance (AL1).
struct Allergy {
  Code allergen;     // AL1-3
  Sourced type;      // AL1-2: HL7 table 0127 (DA drug, FA food, EA environmental, MA misc, ...)
  Sourced severity;  // AL1-4: HL7 table 0128 (SV severe, MO moderate, MI mild, U unknown)
  std::vector<Sourced> reactions;  // AL1-5 (repeats)
  Sourced onset;     // AL1-6 identification date
  std::string source_segment;
};

// Who pays (GT1): the guarantor of the patient's account.
struct Guarantor {
  Identifier number;  // GT1-2
  Contact person;     // GT1-3 name, 5 address, 6/7 phones, 8 birth, 9 sex, 11 relationship, 13/14 dates, 16 employer
  Sourced type;       // GT1-10 guarantor type
  // True when the guarantor is the patient (GT1-11 SEL/18/01): FHIR points at the Patient.
  bool is_patient = false;
  std::string source_segment;
};

struct CanonicalRecord {
  // The bytes values read from HL7 v2 view (text.h). First, so that it outlives
  // the values when a record is destroyed.
  TextBuffer text;
  Sourced message_id;    // MSH-10
  Sourced message_type;  // MSH-9.1
  Sourced trigger;       // MSH-9.2
  Sourced sent_time;     // MSH-7
  Sourced sending_application;
  Sourced sending_facility;
  // Hash of the whole message, set only when MSH-10 is empty: resource ids are
  // derived from the message identity, and without a control id two different
  // messages from one sender at one time would otherwise share them.
  std::string content_hash;

  bool has_patient = false;
  Patient patient;
  bool has_encounter = false;
  Encounter encounter;
  std::vector<Diagnosis> diagnoses;
  std::vector<Procedure> procedures;
  std::vector<Order> orders;
  std::vector<Observation> observations;
  std::vector<Charge> charges;
  std::vector<Immunization> immunizations;
  std::vector<Coverage> coverages;
  std::vector<Appointment> appointments;
  std::vector<Document> documents;
  std::vector<Contact> contacts;     // NK1
  std::vector<Allergy> allergies;    // AL1
  std::vector<Guarantor> guarantors; // GT1
  // ADT^A40 and friends: the identifiers of the record merged into this one (MRG-1).
  std::vector<Identifier> merged_identifiers;
};

}  // namespace courier::record
