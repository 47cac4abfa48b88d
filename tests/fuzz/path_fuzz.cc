// libFuzzer target: Path::parse on arbitrary text, then reading (and writing)
// that path on a fixed message. A parsed path must print back to a string that
// parses to the same path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/hl7v2/message.h"
#include "engine/hl7v2/path.h"

namespace {

constexpr std::string_view kMessage =
    "MSH|^~\\&#|SENDAPP|SENDFAC|RCVAPP|RCVFAC|20240101120000||ORU^R01^ORU_R01|FZ1|P|2.8|||AL|NE\r"
    "PID|1||A1^^^H&1.2.3&ISO^MR~B2^^^H2^PI||DOE^JOHN^Q\\T\\R||19800101|M|||1 MAIN ST^^TOWN\r"
    "OBR|1|ORD1\r"
    "OBX|1|ST|C^c||one\\F\\two\r"
    "OBX|2|NM|N^n||42\r"
    "OBX|3|TX|T^t||line\\.br\\next~rep2^c2&s2\r"
    "NTE|1||note#\r";

void check(bool ok) {
  if (!ok) std::abort();
}

bool samePath(const courier::hl7v2::Path& a, const courier::hl7v2::Path& b) {
  return a.segmentId() == b.segmentId() && a.segment_rep == b.segment_rep && a.field == b.field &&
         a.repetition == b.repetition && a.component == b.component && a.subcomponent == b.subcomponent;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const courier::hl7v2::Message message = *courier::hl7v2::Message::parse(kMessage);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto path = courier::hl7v2::Path::parse(text);
  if (!path) {
    check(!path.error().message.empty());
    return 0;
  }
  auto again = courier::hl7v2::Path::parse(path->toString());
  check(again.has_value() && samePath(*path, *again));

  std::string_view raw = message.rawValue(*path);
  check(raw.empty() || (raw.data() >= kMessage.data() && raw.data() + raw.size() <= kMessage.data() + kMessage.size()));
  std::string value = message.get(*path);
  check(message.has(*path) == !raw.empty());
  (void)value;

  // Writing at that path either fails cleanly or leaves a message that reads back the value.
  if (path->field < 1000 && path->repetition < 1000 && path->component < 1000 && path->subcomponent < 1000) {
    courier::hl7v2::Message edited = message;
    if (edited.set(*path, "w")) {
      check(edited.get(*path) == "w");
      check(edited.rebuildFromIndex() == edited.raw());
    }
  }
  return 0;
}
