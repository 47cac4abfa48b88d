// CanonicalRecord → FHIR R4 Bundle (JSON).
//
// One Bundle of type `collection` per record: Patient, Encounter (+ attending
// Practitioner), Condition, Procedure, ServiceRequest (orders), Observation,
// ChargeItem, Immunization, Coverage (+ payer Organization), Appointment and
// DocumentReference. Resource ids are deterministic UUIDs derived from the
// message identity (sending facility/application, control id, MSH-7) and the
// source segment, so a replayed message yields the same ids while repeated
// segments and different messages never share one. Every fullUrl is
// `urn:uuid:<id>` and every reference points at an entry of the same Bundle.
//
// HL7 times without a UTC offset become FHIR dates (FHIR requires an offset on
// any dateTime with a time); the record keeps the full value.
//
// Thread-safety: pure function of its input.
#pragma once

#include <string>

#include "engine/record/canonical_record.h"

namespace courier::record {

std::string toFhirBundle(const CanonicalRecord& rec);

// HL7 DTM → FHIR date/dateTime (empty when it cannot be represented).
std::string hl7ToFhirDateTime(std::string_view dtm);
// HL7 DTM → FHIR date (YYYY, YYYY-MM or YYYY-MM-DD; empty when malformed).
std::string hl7ToFhirDate(std::string_view dtm);
// HL7 DTM → FHIR instant (needs seconds precision is padded; empty without an offset).
std::string hl7ToFhirInstant(std::string_view dtm);
// HL7 table 0396 coding system name → FHIR system URI (empty when unknown).
std::string_view fhirSystemFor(std::string_view hl7_system);

}  // namespace courier::record
