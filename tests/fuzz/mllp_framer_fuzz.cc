// libFuzzer target: the MLLP framer on arbitrary bytes, fed in arbitrary pieces.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "adapters/mllp/framer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  courier::mllp::Framer framer({.max_frame_bytes = 256, .keep_prefix_bytes = 16, .max_discard_bytes = 1024});
  std::vector<courier::mllp::FrameEvent> events;
  // The first byte picks the piece size, so splits are explored too.
  const std::size_t piece = 1 + data[0] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  for (std::size_t i = 0; i < bytes.size(); i += piece) framer.feed(bytes.substr(i, piece), events);
  for (const auto& e : events) {
    if (e.kind == courier::mllp::FrameEvent::Kind::kFrame && e.payload.size() > 256) __builtin_trap();
  }
  return 0;
}
