#include "engine/record/from_bytes.h"

#include <string>
#include <utility>

#include "engine/hl7v2/batch.h"
#include "engine/record/from_fhir.h"
#include "engine/record/from_hl7v2.h"

namespace courier::record {
namespace {

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view skipBlanks(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  return s;
}

// "message 3" + the error's own location.
Error located(Error e, std::string_view item, int n) {
  std::string where = std::string(item) + " " + std::to_string(n);
  e.location = e.location.empty() ? where : where + ": " + e.location;
  return e;
}

Result<DecodedRecord> fromHl7v2Bytes(std::string_view bytes, const DecodeOptions& options) {
  auto msg = hl7v2::Message::parse(bytes);
  if (!msg) return Unexpected(msg.error().toError());
  DecodedRecord out;
  out.format = InputFormat::kHl7v2;
  out.message.emplace(std::move(*msg));
  auto rec = fromHl7v2(*out.message);
  if (!rec) return Unexpected(std::move(rec).error());
  out.record = std::move(*rec);
  if (options.site_maps != nullptr) options.site_maps->apply(*out.message, out.record);
  return out;
}

Result<DecodedRecord> fromFhirBytes(std::string_view bytes, size_t* consumed) {
  auto rec = fromFhirJson(bytes, consumed);
  if (!rec) return Unexpected(std::move(rec).error());
  DecodedRecord out;
  out.format = InputFormat::kFhirJson;
  out.record = std::move(*rec);
  return out;
}

}  // namespace

InputFormat detectFormat(std::string_view bytes) {
  std::string_view rest = skipBlanks(bytes);
  return !rest.empty() && rest.front() == '{' ? InputFormat::kFhirJson : InputFormat::kHl7v2;
}

Result<DecodedRecord> recordFromBytes(std::string_view bytes, const DecodeOptions& options) {
  if (detectFormat(bytes) == InputFormat::kFhirJson) return fromFhirBytes(bytes, nullptr);
  return fromHl7v2Bytes(bytes, options);
}

Result<void> recordsFromBytes(std::string_view bytes, const DecodeOptions& options,
                              const std::function<void(DecodedRecord&)>& each) {
  if (detectFormat(bytes) == InputFormat::kFhirJson) {
    std::string_view rest = skipBlanks(bytes);
    for (int n = 1; !rest.empty(); ++n) {
      size_t used = 0;
      auto rec = fromFhirBytes(rest, &used);
      if (!rec) return Unexpected(located(std::move(rec).error(), "document", n));
      each(*rec);
      rest = skipBlanks(rest.substr(used));
    }
    return {};
  }
  auto batch = hl7v2::splitBatch(bytes);
  if (!batch) return Unexpected(batch.error().toError());
  int n = 0;
  for (std::string_view message : batch->messages) {
    ++n;
    auto rec = fromHl7v2Bytes(message, options);
    if (!rec) return Unexpected(located(std::move(rec).error(), "message", n));
    each(*rec);
  }
  return {};
}

}  // namespace courier::record
