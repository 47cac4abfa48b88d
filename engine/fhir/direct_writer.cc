#include "engine/fhir/direct_writer.h"

#include <algorithm>

namespace courier::fhir {

void JsonBuffer::grow(size_t at_least) {
  size_t capacity = capacity_ == 0 ? std::max<size_t>(at_least, 16) : capacity_;
  while (capacity < at_least) capacity *= 2;
  std::unique_ptr<char[]> bigger(new char[capacity]);  // not zeroed
  const size_t used = storage_ ? size() : 0;
  if (used > 0) std::memcpy(bigger.get(), storage_.get(), used);
  storage_ = std::move(bigger);
  capacity_ = capacity;
  end_ = storage_.get() + used;
}

}  // namespace courier::fhir
