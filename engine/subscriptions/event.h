// Event: one thing that happened to a record, as a topic sees it, and eventsFor(), which
// says which events a record raises.
//
// A record raises at most one event per topic and focus resource:
//   encounter-start       ADT A01/A04/A05 with a PV1; from FHIR, an Encounter without an end
//   encounter-end         ADT A03, or another ADT (not A01/A04/A05) whose PV1-45 discharge time is
//                         set; from FHIR, an Encounter with an end
//   diagnosis             one per diagnosis (DG1, FHIR Condition)
//   procedure             one per procedure (PR1, FHIR Procedure)
//   immunization          one per RXA (VXU or any message that carries one; refusals included:
//                         the Immunization's status says not-done)
//   observation-resulted  one per OBX whose status is F (final) or C (corrected, an update) in an
//                         ORU or a FHIR input
//   claim-produced        one, when the caller says a claim was produced (focus: the Claim)
//
// Codes ("system|code", system a URI) come from the CodedRecord when given (Courier's checked
// and normalized codes), else from the record as sent, the HL7 system name mapped to its URI
// (a diagnosis sent without a system is taken as ICD-10-CM). The patient reference is
// "Patient/<MRN>" (PID-3 of type MR, else the first identifier): a subscriber names patients
// the way the hospital does, because the FHIR ids Courier writes differ per message.
//
// Thread-safety: pure function; the events point at `rec`, which must outlive them.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "engine/coding/record_coder.h"
#include "engine/record/canonical_record.h"
#include "engine/subscriptions/topics.h"

namespace courier::subscriptions {

struct Event {
  Topic topic = Topic::kEncounterStart;
  const record::CanonicalRecord* record = nullptr;
  std::vector<std::string> codes;        // "system|code", e.g. "http://hl7.org/fhir/sid/icd-10-cm|C50.911"
  std::vector<std::string> specialties;  // any case
  std::string facility;                  // MSH-4 as sent
  std::string patient_class;             // HL7 table 0004 (I, O, E, ...)
  std::string patient_ref;               // "Patient/<id>"
  // The focus: its resource type and its index in the record's list of that kind
  // (diagnoses for Condition, procedures, observations, immunizations); -1 for the
  // record's Encounter and for a Claim, of which there is one.
  std::string focus_type;
  int focus_index = -1;
  bool is_update = false;  // the resource changed rather than appeared (A03, A08, OBX-11 C)
};

std::vector<Event> eventsFor(const record::CanonicalRecord& rec, const coding::CodedRecord* coded,
                             std::span<const std::string> specialties, bool claim_produced);

// "Patient/<MRN>" for a record, or empty when it has no patient identifier.
std::string patientRefFor(const record::CanonicalRecord& rec);

}  // namespace courier::subscriptions
