// Small helpers for writing FHIR R4 JSON with RapidJSON's streaming Writer.
//
// FHIR JSON never contains empty strings, empty arrays or empty objects; these
// helpers skip empty values so that callers can write every element
// unconditionally. Writing goes straight to a StringBuffer: no DOM is built.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace courier::fhir {

// Writes `s` quoted and escaped at p, which has room for s.size() * 6 + 2 bytes;
// returns the end. The escapes are RapidJSON's (\" \\ \b \f \n \r \t, \u00XX
// for other control bytes, everything else verbatim).
char* putQuoted(char* p, std::string_view s);

// RapidJSON's Writer with a faster string path: stringValue() writes exactly what
// String()/Key() write (same escapes: \" \\ \b \f \n \r \t, \u00XX for other
// control bytes, everything else verbatim), but finds the bytes to escape eight
// at a time and copies the runs between them at once, where RapidJSON's
// WriteString handles one byte per step (a third of a Bundle's writing time).
class JsonWriter : public rapidjson::Writer<rapidjson::StringBuffer> {
 public:
  explicit JsonWriter(rapidjson::StringBuffer& out) : rapidjson::Writer<rapidjson::StringBuffer>(out) {}

  // A string value or an object key (the Writer tells them apart by position).
  void stringValue(std::string_view s) {
    Prefix(rapidjson::kStringType);
    appendQuoted(s);
    EndValue(true);
  }

  // An object key Courier itself names (a FHIR element name: letters, digits, '_'),
  // so nothing in it needs escaping; copied as it is.
  void plainKey(std::string_view key) {
    Prefix(rapidjson::kStringType);
    char* p = os_->Push(key.size() + 2);
    *p = '"';
    std::memcpy(p + 1, key.data(), key.size());
    p[key.size() + 1] = '"';
    EndValue(true);
  }

  // "key": "value" inside an object, written as one piece: the separator, the key
  // (a plainKey) and the quoted value in one reservation, where a Key() and a String()
  // would each run the Writer's Prefix() and reserve on their own. Same bytes.
  void keyAndString(std::string_view key, std::string_view value);

  // "urn:uuid:<uuid>" as a string value; uuid is one Courier generated (hex and '-').
  void urnUuid(std::string_view uuid) {
    static constexpr std::string_view kPrefix = "\"urn:uuid:";
    Prefix(rapidjson::kStringType);
    char* p = os_->Push(kPrefix.size() + uuid.size() + 1);
    std::memcpy(p, kPrefix.data(), kPrefix.size());
    std::memcpy(p + kPrefix.size(), uuid.data(), uuid.size());
    p[kPrefix.size() + uuid.size()] = '"';
    EndValue(true);
  }

 private:
  void appendQuoted(std::string_view s);
};

inline void writeString(JsonWriter& w, std::string_view s) { w.stringValue(s); }

// `key` is an element name written by Courier, never input (see plainKey).
inline void writeKey(JsonWriter& w, std::string_view key) { w.plainKey(key); }

// "key": "value", only when value is not empty.
inline void writeField(JsonWriter& w, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  w.keyAndString(key, value);
}

// {"reference": "urn:uuid:<id>"} under `key`.
inline void writeReference(JsonWriter& w, std::string_view key, std::string_view uuid) {
  if (uuid.empty()) return;
  writeKey(w, key);
  w.StartObject();
  writeKey(w, "reference");
  w.urnUuid(uuid);
  w.EndObject();
}

// True when `s` is a FHIR decimal (JSON number syntax) that a JSON reader can hold as a
// double (at most 300 digits left of the point, exponent counted; exponent >= -300).
bool isFhirDecimal(std::string_view s);

}  // namespace courier::fhir
