// Small helpers for writing FHIR R4 JSON with RapidJSON's streaming Writer.
//
// FHIR JSON never contains empty strings, empty arrays or empty objects; these
// helpers skip empty values so that callers can write every element
// unconditionally. Writing goes straight to a StringBuffer: no DOM is built.
#pragma once

#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace courier::fhir {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void writeString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

inline void writeKey(JsonWriter& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

// "key": "value", only when value is not empty.
inline void writeField(JsonWriter& w, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  writeKey(w, key);
  writeString(w, value);
}

// {"reference": "urn:uuid:<id>"} under `key`.
inline void writeReference(JsonWriter& w, std::string_view key, std::string_view uuid) {
  if (uuid.empty()) return;
  writeKey(w, key);
  w.StartObject();
  writeKey(w, "reference");
  std::string ref = "urn:uuid:";
  ref.append(uuid);
  writeString(w, ref);
  w.EndObject();
}

// True when `s` is a FHIR decimal (JSON number syntax without exponent oddities).
bool isFhirDecimal(std::string_view s);

}  // namespace courier::fhir
