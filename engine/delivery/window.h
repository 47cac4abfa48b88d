// Windows: how a sink that puts several items in flight before reading their answers
// (MLLP windows, HTTP/1.1 pipelining) cuts a batch.
//
// A window ends at `max_items`, once it holds `max_bytes` of payload (the first item
// always fits), and before an item of a patient already in it or without a patient key
// (such an item goes alone). The sinks' results stop at the first refusal, so an item
// the receiver took after a refused one must never be the same patient's: otherwise a
// receiver that refuses one message and accepts the next would get that patient's
// messages out of order (sink.h, Delivery::patient_key).
//
// Threading: one sink's thread (the set is reused from window to window).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>

#include "engine/delivery/sink.h"

namespace courier::delivery {

class Windows {
 public:
  Windows(std::size_t max_items, std::size_t max_bytes) : max_items_(max_items), max_bytes_(max_bytes) {}

  // One past the last item of the window that starts at `begin` (< items.size()).
  std::size_t end(std::span<const Delivery> items, std::size_t begin) {
    keys_.clear();
    std::size_t end = begin;
    std::size_t bytes = 0;
    while (end < items.size() && end - begin < max_items_ && (end == begin || bytes < max_bytes_)) {
      const std::string& key = items[end].patient_key;
      if (key.empty()) return end == begin ? end + 1 : end;
      if (!keys_.insert(key).second) break;
      bytes += items[end].payload.size();
      ++end;
    }
    return end;
  }

 private:
  std::size_t max_items_;
  std::size_t max_bytes_;
  std::unordered_set<std::string_view> keys_;  // patient keys of the window being cut
};

}  // namespace courier::delivery
