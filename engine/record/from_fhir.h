// FHIR R4 JSON → CanonicalRecord.
//
// Accepts a Bundle (transaction, batch, message, collection, or any other type:
// the entries are read the same way) or a single resource. Reads Patient,
// Encounter (+ the attending Practitioner it references), Condition, Procedure,
// Observation (each component becomes an observation of its own),
// Immunization, Claim (diagnoses, procedures and items as charges), Coverage
// (+ payor Organization), ChargeItem, DocumentReference, ServiceRequest and
// MessageHeader; other resource types and entries without a resource (batch
// DELETE/GET requests) are skipped. The first Patient is the subject, the first
// Encounter the encounter; the record holds one of each.
//
// Every value keeps its FHIR path as source: `Bundle.entry[3].resource.code.coding[0].code`
// inside a Bundle, `Condition/abc.code.coding[0].code` for a single resource
// with an id. References are resolved inside the Bundle by fullUrl
// (`urn:uuid:…`, absolute URLs) and by `Type/id`.
//
// The record holds HL7-shaped values so that both inputs look alike: FHIR
// dates and times become HL7 DTM (`2020-10-20T19:19:03+00:00` → `20201020191903+0000`),
// well-known code system URIs become their HL7 table 0396 names (`http://loinc.org`
// → `LN`), FHIR codes of gender, name use, encounter class, status etc. become
// the HL7 table values to_fhir.h maps back. Numbers keep their JSON text (so
// `125.00` stays `125.00`); the price is that a number where FHIR wants a string
// is read as that string rather than rejected.
//
// Errors (never PHI, always with the JSON path of the failing element):
//   kParse            not JSON, invalid UTF-8, trailing bytes after the document;
//                     location `offset N`
//   kInvalidArgument  JSON but not FHIR: no resourceType, an element of the wrong
//                     JSON type (`Bundle.entry[2].resource.code.coding` is not an
//                     array), unresolvable nesting limits
//
// Thread-safety: pure function of its input.
#pragma once

#include <cstddef>
#include <string_view>

#include "engine/core/result.h"
#include "engine/record/canonical_record.h"

namespace courier::record {

// Converts one JSON document. When `consumed` is null, anything but whitespace
// after the document is a kParse error; otherwise reading stops after the first
// document and *consumed is set to the bytes read (for NDJSON-like streams).
[[nodiscard]] Result<CanonicalRecord> fromFhirJson(std::string_view json, size_t* consumed = nullptr);

// FHIR date/dateTime/instant → HL7 DTM; returns `value` unchanged when it is not
// a well-formed FHIR date or time.
std::string fhirToHl7DateTime(std::string_view value);

// FHIR code system URI → HL7 table 0396 name (`http://loinc.org` → `LN`);
// returns the URI itself when it has no HL7 name.
std::string_view hl7SystemFor(std::string_view uri);

}  // namespace courier::record
