// libFuzzer target: the canonical record on arbitrary bytes. FHIR R4 JSON (a resource or
// a Bundle) and HL7 v2 both go through their readers into a CanonicalRecord; every record
// that comes out is written back as a FHIR Bundle and as the record's JSON, which must
// never crash and must always be one JSON value (RapidJSON reads it back).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "engine/hl7v2/message.h"
#include "engine/record/from_fhir.h"
#include "engine/record/from_hl7v2.h"
#include "engine/record/record_json.h"
#include "engine/record/to_fhir.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void writeBack(const courier::record::CanonicalRecord& rec) {
  for (const std::string& json : {courier::record::toFhirBundle(rec), courier::record::toRecordJson(rec)}) {
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    check(!doc.HasParseError());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto rec = courier::record::fromFhirJson(bytes)) writeBack(*rec);
  if (auto msg = courier::hl7v2::Message::parse(bytes)) {
    if (auto rec = courier::record::fromHl7v2(*msg)) writeBack(*rec);
  }
  return 0;
}
