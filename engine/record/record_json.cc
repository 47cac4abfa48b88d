#include "engine/record/record_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "engine/fhir/json.h"

namespace courier::record {
namespace {

using fhir::JsonWriter;
using fhir::writeKey;
using fhir::writeString;

void put(JsonWriter& w, std::string_view key, const Sourced& v) {
  if (v.empty()) return;
  writeKey(w, key);
  w.StartObject();
  writeKey(w, "value");
  writeString(w, v.value);
  writeKey(w, "source");
  writeString(w, v.source.str());
  w.EndObject();
}

void put(JsonWriter& w, std::string_view key, const Code& c) {
  if (c.empty()) return;
  writeKey(w, key);
  w.StartObject();
  put(w, "code", c.code);
  put(w, "display", c.display);
  put(w, "system", c.system);
  w.EndObject();
}

void put(JsonWriter& w, std::string_view key, const Practitioner& p) {
  if (p.id.empty() && p.family.empty() && p.given.empty()) return;
  writeKey(w, key);
  w.StartObject();
  put(w, "id", p.id);
  put(w, "family", p.family);
  put(w, "given", p.given);
  w.EndObject();
}

template <typename T, typename F>
void putList(JsonWriter& w, std::string_view key, const std::vector<T>& items, F each) {
  if (items.empty()) return;
  writeKey(w, key);
  w.StartArray();
  for (const T& item : items) each(item);
  w.EndArray();
}

void putSourcedList(JsonWriter& w, std::string_view key, const std::vector<Sourced>& items) {
  putList(w, key, items, [&](const Sourced& v) {
    w.StartObject();
    writeKey(w, "value");
    writeString(w, v.value);
    writeKey(w, "source");
    writeString(w, v.source.str());
    w.EndObject();
  });
}

void putIdentifiers(JsonWriter& w, std::string_view key, const std::vector<Identifier>& ids) {
  putList(w, key, ids, [&](const Identifier& id) {
    w.StartObject();
    put(w, "value", id.value);
    put(w, "type", id.type);
    put(w, "assigning_authority", id.assigning_authority);
    w.EndObject();
  });
}

void segment(JsonWriter& w, const std::string& name) { fhir::writeField(w, "segment", name); }

void putNames(JsonWriter& w, std::string_view key, const std::vector<Name>& names) {
  putList(w, key, names, [&](const Name& n) {
    w.StartObject();
    put(w, "family", n.family);
    putSourcedList(w, "given", n.given);
    put(w, "prefix", n.prefix);
    put(w, "suffix", n.suffix);
    put(w, "use", n.use);
    w.EndObject();
  });
}

void putAddresses(JsonWriter& w, const std::vector<Address>& addresses) {
  putList(w, "addresses", addresses, [&](const Address& a) {
    w.StartObject();
    putSourcedList(w, "lines", a.lines);
    put(w, "city", a.city);
    put(w, "state", a.state);
    put(w, "postal_code", a.postal_code);
    put(w, "country", a.country);
    put(w, "use", a.use);
    w.EndObject();
  });
}

void putTelecoms(JsonWriter& w, const std::vector<Telecom>& telecoms) {
  putList(w, "telecoms", telecoms, [&](const Telecom& t) {
    w.StartObject();
    put(w, "value", t.value);
    put(w, "use", t.use);
    put(w, "equipment", t.equipment);
    w.EndObject();
  });
}

void putExtensions(JsonWriter& w, const std::vector<Extension>& extensions) {
  putList(w, "extensions", extensions, [&](const Extension& e) {
    w.StartObject();
    fhir::writeField(w, "url", e.url);
    put(w, "value", e.value);
    w.EndObject();
  });
}

void putCodes(JsonWriter& w, std::string_view key, const std::vector<Code>& codes) {
  putList(w, key, codes, [&](const Code& d) {
    w.StartObject();
    put(w, "code", d.code);
    put(w, "display", d.display);
    put(w, "system", d.system);
    w.EndObject();
  });
}

void putContact(JsonWriter& w, const Contact& c) {
  w.StartObject();
  segment(w, c.source_segment);
  if (!c.name.family.empty() || !c.name.given.empty()) putNames(w, "names", std::vector<Name>{c.name});
  put(w, "relationship", c.relationship);
  put(w, "role", c.role);
  putAddresses(w, c.addresses);
  putTelecoms(w, c.telecoms);
  put(w, "sex", c.sex);
  put(w, "birth_date", c.birth_date);
  put(w, "start", c.start);
  put(w, "end", c.end);
  put(w, "organization", c.organization);
  w.EndObject();
}

}  // namespace

std::string toRecordJson(const CanonicalRecord& rec) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  put(w, "message_id", rec.message_id);
  put(w, "message_type", rec.message_type);
  put(w, "trigger", rec.trigger);
  put(w, "sent_time", rec.sent_time);
  put(w, "sending_application", rec.sending_application);
  put(w, "sending_facility", rec.sending_facility);
  if (rec.has_patient) {
    const Patient& p = rec.patient;
    writeKey(w, "patient");
    w.StartObject();
    segment(w, p.source_segment);
    putIdentifiers(w, "identifiers", p.identifiers);
    putNames(w, "names", p.names);
    put(w, "birth_date", p.birth_date);
    put(w, "sex", p.sex);
    putAddresses(w, p.addresses);
    putTelecoms(w, p.telecoms);
    put(w, "deceased", p.deceased);
    put(w, "death_time", p.death_time);
    putExtensions(w, p.extensions);
    w.EndObject();
  }
  if (rec.has_encounter) {
    const Encounter& e = rec.encounter;
    writeKey(w, "encounter");
    w.StartObject();
    segment(w, e.source_segment);
    put(w, "patient_class", e.patient_class);
    put(w, "visit_number", e.visit_number);
    put(w, "admit_time", e.admit_time);
    put(w, "discharge_time", e.discharge_time);
    put(w, "location_point_of_care", e.location_point_of_care);
    put(w, "location_room", e.location_room);
    put(w, "location_bed", e.location_bed);
    put(w, "location_facility", e.location_facility);
    put(w, "hospital_service", e.hospital_service);
    put(w, "attending", e.attending);
    put(w, "discharge_disposition", e.discharge_disposition);
    put(w, "admission_type", e.admission_type);
    put(w, "reason", e.reason);
    putExtensions(w, e.extensions);
    w.EndObject();
  }
  putList(w, "diagnoses", rec.diagnoses, [&](const Diagnosis& d) {
    w.StartObject();
    segment(w, d.source_segment);
    put(w, "code", d.code);
    put(w, "text", d.text);
    put(w, "type", d.type);
    put(w, "rank", d.rank);
    put(w, "present_on_admission", d.present_on_admission);
    put(w, "time", d.time);
    w.EndObject();
  });
  putList(w, "procedures", rec.procedures, [&](const Procedure& p) {
    w.StartObject();
    segment(w, p.source_segment);
    put(w, "code", p.code);
    put(w, "text", p.text);
    put(w, "time", p.time);
    put(w, "performer", p.performer);
    w.EndObject();
  });
  putList(w, "orders", rec.orders, [&](const Order& o) {
    w.StartObject();
    segment(w, o.source_segment);
    put(w, "placer_number", o.placer_number);
    put(w, "filler_number", o.filler_number);
    put(w, "service", o.service);
    put(w, "status", o.status);
    put(w, "time", o.time);
    w.EndObject();
  });
  putList(w, "observations", rec.observations, [&](const Observation& o) {
    w.StartObject();
    segment(w, o.source_segment);
    put(w, "code", o.code);
    put(w, "value_type", o.value_type);
    put(w, "value", o.value);
    put(w, "coded_value", o.coded_value);
    putSourcedList(w, "repeats", o.repeats);
    putCodes(w, "coded_repeats", o.coded_repeats);
    put(w, "units", o.units);
    put(w, "reference_range", o.reference_range);
    put(w, "abnormal_flag", o.abnormal_flag);
    put(w, "status", o.status);
    put(w, "effective_time", o.effective_time);
    if (o.order_index > 0) {
      writeKey(w, "order_index");
      w.Int(o.order_index);
    }
    w.EndObject();
  });
  putList(w, "charges", rec.charges, [&](const Charge& c) {
    w.StartObject();
    segment(w, c.source_segment);
    put(w, "transaction_date", c.transaction_date);
    put(w, "transaction_type", c.transaction_type);
    put(w, "chargemaster", c.chargemaster);
    put(w, "quantity", c.quantity);
    put(w, "amount", c.amount);
    put(w, "hcpcs", c.hcpcs);
    putSourcedList(w, "modifiers", c.modifiers);
    putCodes(w, "diagnoses", c.diagnoses);
    w.EndObject();
  });
  putList(w, "immunizations", rec.immunizations, [&](const Immunization& im) {
    w.StartObject();
    segment(w, im.source_segment);
    put(w, "vaccine", im.vaccine);
    put(w, "time", im.time);
    put(w, "dose", im.dose);
    put(w, "dose_units", im.dose_units);
    put(w, "lot", im.lot);
    put(w, "expiration", im.expiration);
    put(w, "manufacturer", im.manufacturer);
    put(w, "completion_status", im.completion_status);
    put(w, "route", im.route);
    put(w, "site", im.site);
    w.EndObject();
  });
  putList(w, "coverages", rec.coverages, [&](const Coverage& c) {
    w.StartObject();
    segment(w, c.source_segment);
    put(w, "plan", c.plan);
    put(w, "payer_id", c.payer_id);
    put(w, "payer_name", c.payer_name);
    put(w, "group_number", c.group_number);
    put(w, "member_id", c.member_id);
    put(w, "subscriber_name", c.subscriber_name);
    put(w, "relationship", c.relationship);
    put(w, "start", c.start);
    put(w, "end", c.end);
    w.EndObject();
  });
  putList(w, "appointments", rec.appointments, [&](const Appointment& a) {
    w.StartObject();
    segment(w, a.source_segment);
    put(w, "placer_id", a.placer_id);
    put(w, "filler_id", a.filler_id);
    put(w, "reason", a.reason);
    put(w, "start", a.start);
    put(w, "end", a.end);
    put(w, "status", a.status);
    w.EndObject();
  });
  putList(w, "documents", rec.documents, [&](const Document& d) {
    w.StartObject();
    segment(w, d.source_segment);
    put(w, "type", d.type);
    put(w, "status", d.status);
    put(w, "time", d.time);
    put(w, "unique_id", d.unique_id);
    put(w, "text", Sourced{d.text, d.text_source});
    w.EndObject();
  });
  putList(w, "contacts", rec.contacts, [&](const Contact& c) { putContact(w, c); });
  putList(w, "allergies", rec.allergies, [&](const Allergy& a) {
    w.StartObject();
    segment(w, a.source_segment);
    put(w, "allergen", a.allergen);
    put(w, "type", a.type);
    put(w, "severity", a.severity);
    putSourcedList(w, "reactions", a.reactions);
    put(w, "onset", a.onset);
    w.EndObject();
  });
  putList(w, "guarantors", rec.guarantors, [&](const Guarantor& g) {
    w.StartObject();
    segment(w, g.source_segment);
    if (!g.number.value.empty()) {
      writeKey(w, "number");
      w.StartObject();
      put(w, "value", g.number.value);
      put(w, "type", g.number.type);
      put(w, "assigning_authority", g.number.assigning_authority);
      w.EndObject();
    }
    put(w, "type", g.type);
    if (g.is_patient) {
      writeKey(w, "is_patient");
      w.Bool(true);
    }
    writeKey(w, "person");
    putContact(w, g.person);
    w.EndObject();
  });
  putIdentifiers(w, "merged_identifiers", rec.merged_identifiers);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace courier::record
