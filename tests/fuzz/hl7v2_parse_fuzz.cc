// libFuzzer target: the HL7 v2 library on arbitrary bytes. Splits them as a
// batch file, parses each message, reads and writes values, rebuilds the bytes
// from the index (which must reproduce the input exactly), and builds a NAK
// from whatever header can be salvaged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/clock.h"
#include "engine/hl7v2/ack_builder.h"
#include "engine/hl7v2/batch.h"
#include "engine/hl7v2/header.h"
#include "engine/hl7v2/message.h"

namespace {

using courier::hl7v2::AckBuilder;
using courier::hl7v2::AckError;
using courier::hl7v2::AckOutcome;
using courier::hl7v2::Message;
using courier::hl7v2::MessageHeader;
using courier::hl7v2::Path;

const std::vector<Path>& paths() {
  static const std::vector<Path> compiled = [] {
    std::vector<Path> out;
    for (const char* text : {"MSH-1", "MSH-2", "MSH-3", "MSH-9", "MSH-9.2", "MSH-10", "MSH-12.1", "MSH-18",
                             "PID-3", "PID-3[2].1", "PID-5.1", "PID-11.1.2", "OBX[3]-5", "OBX-5[2].3.4",
                             "NTE-3", "ZZZ-1"})
      out.push_back(*Path::parse(text));
    return out;
  }();
  return compiled;
}

void check(bool ok) {
  if (!ok) std::abort();
}

void exerciseMessage(std::string_view bytes, const AckBuilder& builder) {
  auto m = Message::parse(bytes);
  if (!m) {
    check(!m.error().message.empty());
    return;
  }
  check(m->rebuildFromIndex() == bytes);
  check(m->serialize() == bytes);
  for (const Path& p : paths()) {
    std::string value = m->get(p);
    check(m->rawValue(p).size() <= bytes.size());
    (void)value;
  }
  for (size_t s = 0; s < m->segmentCount(); ++s) {
    auto seg = m->segment(s);
    check(seg.raw().size() <= bytes.size());
    for (int f = 0; f <= seg.fieldCount() + 1 && f < 64; ++f) (void)seg.field(f);
  }
  MessageHeader header = MessageHeader::fromMessage(*m);
  (void)courier::hl7v2::validateHeader(header);
  (void)builder.build(header, AckOutcome::kAccept);

  // A write must leave a message that still round-trips and reads back.
  Message edited = *m;
  static const char kValue[] = "v|a^l~u&e\\#\n";
  if (edited.set(paths()[8], kValue)) {  // PID-3
    check(edited.rebuildFromIndex() == edited.raw());
    if (edited.delimiters().escape != '\0') check(edited.get(paths()[8]) == kValue);
  }
  if (edited.set(paths()[12], "x")) check(edited.get(paths()[12]) == "x");  // OBX[3]-5
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static AckBuilder builder("FZ", courier::Clock::system());
  std::string_view bytes(reinterpret_cast<const char*>(data), size);

  auto batch = courier::hl7v2::splitBatch(bytes);
  if (batch) {
    for (std::string_view one : batch->messages) exerciseMessage(one, builder);
  } else {
    check(batch.error().condition == courier::hl7v2::ErrorCondition::kSegmentSequence);
  }
  exerciseMessage(bytes, builder);

  MessageHeader salvaged = MessageHeader::salvage(bytes);
  std::vector<AckError> errors = {{courier::hl7v2::ErrorCondition::kApplicationError, "fuzz", {"PID", 1, 3, 1, 1, 0}, 'E'}};
  auto nak = builder.build(salvaged, AckOutcome::kReject, errors);
  if (nak) check(Message::parse(*nak).has_value());
  return 0;
}
