// DirectJsonWriter: FHIR JSON appended straight into one growing buffer.
//
// The same bytes JsonWriter (json.h) writes — compact JSON, strings escaped by
// putQuoted — without RapidJSON's Writer: no level stack and no per-value
// Prefix() checks. The only state is whether the next key or value needs a
// ',' before it. Members are written as one piece (`"key":"value"` is one
// reservation; a key given as a literal is copied with its size known at compile
// time), which is where a Bundle's writing time went. The writing functions are
// always inlined: GCC otherwise keeps them out of line, and a key's copy becomes a
// library call of unknown size.
//
// The writer does not check nesting: callers pair start/end themselves (a
// Bundle writer is straight-line code, and tests parse its output). Keys are
// element names Courier writes (letters, digits, '_'), copied unescaped; values
// are escaped.
//
//   fhir::JsonBuffer buf;               // reusable: clear() keeps the capacity
//   fhir::DirectJsonWriter w(buf);
//   w.startObject(); w.keyAndString("resourceType", "Patient"); w.endObject();
//   std::string_view json = buf.view();
//
// Thread-safety: none; one writer and buffer per thread.
#pragma once

#include <cassert>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

#include "engine/fhir/json.h"

namespace courier::fhir {

// A byte buffer that grows by doubling; clear() keeps its capacity.
class JsonBuffer {
 public:
  explicit JsonBuffer(size_t capacity = 8192) { grow(capacity); }

  void clear() { end_ = begin(); }
  std::string_view view() const { return {storage_.get(), size()}; }
  size_t size() const { return static_cast<size_t>(end_ - storage_.get()); }
  size_t capacity() const { return capacity_; }
  // Drops a large buffer's memory (a huge document should not stay allocated): the
  // capacity becomes `capacity` when it was larger, and the content is dropped then.
  void shrinkTo(size_t capacity) {
    if (capacity_ <= capacity) return;
    storage_.reset();
    capacity_ = 0;
    end_ = nullptr;
    grow(capacity);
  }

  // Room for n more bytes at the returned pointer; commit(p) ends the write at p.
  char* room(size_t n) {
    if (static_cast<size_t>(storage_.get() + capacity_ - end_) < n) grow(size() + n);
    return end_;
  }
  void commit(char* p) { end_ = p; }

 private:
  char* begin() { return storage_.get(); }
  void grow(size_t at_least);

  std::unique_ptr<char[]> storage_;
  size_t capacity_ = 0;
  char* end_ = nullptr;
};

class DirectJsonWriter {
 public:
  // Appends to `out` (which is not cleared).
  explicit DirectJsonWriter(JsonBuffer& out) : out_(out) {}

  [[gnu::always_inline]] void startObject() { open('{'); }
  [[gnu::always_inline]] void endObject() { close('}'); }
  [[gnu::always_inline]] void startArray() { open('['); }
  [[gnu::always_inline]] void endArray() { close(']'); }

  // An object key Courier names (see above): `"key":`.
  [[gnu::always_inline]] void plainKey(std::string_view key) {
    char* p = out_.room(key.size() + 4);
    if (comma_) *p++ = ',';
    p = putKey(p, key);
    out_.commit(p);
    comma_ = false;
  }

  // A string value, escaped.
  [[gnu::always_inline]] void stringValue(std::string_view s) {
    char* p = out_.room(s.size() * 6 + 3);
    if (comma_) *p++ = ',';
    out_.commit(putQuoted(p, s));
    comma_ = true;
  }

  // "key":"value" in one reservation.
  [[gnu::always_inline]] void keyAndString(std::string_view key, std::string_view value) {
    char* p = out_.room(1 + key.size() + 3 + value.size() * 6 + 2);
    if (comma_) *p++ = ',';
    p = putKey(p, key);
    out_.commit(putQuoted(p, value));
    comma_ = true;
  }

  // "key":"value" for a value Courier itself writes (a resource type, a UUID): no
  // quote, backslash or control byte in it, so it is copied without a scan.
  [[gnu::always_inline]] void keyAndPlain(std::string_view key, std::string_view value) {
    assert(value.find_first_of("\"\\") == std::string_view::npos);
    char* p = out_.room(1 + key.size() + 3 + value.size() + 2);
    if (comma_) *p++ = ',';
    p = putKey(p, key);
    *p++ = '"';
    std::memcpy(p, value.data(), value.size());
    p += value.size();
    *p++ = '"';
    out_.commit(p);
    comma_ = true;
  }

  // "key":"value" for a value Courier writes itself, at most max_size bytes, that
  // `put(char* p) -> char*` writes straight into the buffer (a FHIR date made from an
  // HL7 one, with no string in between). The value must need no escape.
  template <typename Put>
  [[gnu::always_inline]] void keyAndPlainWith(std::string_view key, size_t max_size, Put put) {
    char* p = out_.room(1 + key.size() + 3 + max_size + 2);
    if (comma_) *p++ = ',';
    p = putKey(p, key);
    *p++ = '"';
    char* const value = p;
    p = put(p);
    assert(static_cast<size_t>(p - value) <= max_size);
    assert(std::string_view(value, static_cast<size_t>(p - value)).find_first_of("\"\\") == std::string_view::npos);
    (void)value;
    *p++ = '"';
    out_.commit(p);
    comma_ = true;
  }

  // "urn:uuid:<uuid>" as a string value; uuid is one Courier generated (hex and '-').
  [[gnu::always_inline]] void urnUuid(std::string_view uuid) {
    static constexpr std::string_view kPrefix = "\"urn:uuid:";
    char* p = out_.room(1 + kPrefix.size() + uuid.size() + 1);
    if (comma_) *p++ = ',';
    std::memcpy(p, kPrefix.data(), kPrefix.size());
    p += kPrefix.size();
    std::memcpy(p, uuid.data(), uuid.size());
    p += uuid.size();
    *p++ = '"';
    out_.commit(p);
    comma_ = true;
  }

  // `"key":{"reference":"urn:uuid:<uuid>"}`, nothing when uuid is empty.
  [[gnu::always_inline]] void reference(std::string_view key, std::string_view uuid) {
    if (uuid.empty()) return;
    static constexpr std::string_view kMiddle = "{\"reference\":\"urn:uuid:";
    char* p = out_.room(1 + key.size() + 3 + kMiddle.size() + uuid.size() + 2);
    if (comma_) *p++ = ',';
    p = putKey(p, key);
    std::memcpy(p, kMiddle.data(), kMiddle.size());
    p += kMiddle.size();
    std::memcpy(p, uuid.data(), uuid.size());
    p += uuid.size();
    *p++ = '"';
    *p++ = '}';
    out_.commit(p);
    comma_ = true;
  }

  // A number already checked to be valid JSON (isFhirDecimal), written verbatim.
  void rawNumber(std::string_view number) {
    char* p = out_.room(number.size() + 1);
    if (comma_) *p++ = ',';
    std::memcpy(p, number.data(), number.size());
    out_.commit(p + number.size());
    comma_ = true;
  }

  void boolean(bool b) { rawNumber(b ? std::string_view("true") : std::string_view("false")); }

  void integer(int n) {
    char digits[12];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    (void)ec;  // 12 bytes hold any int
    rawNumber(std::string_view(digits, static_cast<size_t>(end - digits)));
  }

 private:
  static char* putKey(char* p, std::string_view key) {
    *p++ = '"';
    std::memcpy(p, key.data(), key.size());
    p += key.size();
    *p++ = '"';
    *p++ = ':';
    return p;
  }
  [[gnu::always_inline]] void open(char c) {
    char* p = out_.room(2);
    if (comma_) *p++ = ',';
    *p++ = c;
    out_.commit(p);
    comma_ = false;
  }
  [[gnu::always_inline]] void close(char c) {
    char* p = out_.room(1);
    *p++ = c;
    out_.commit(p);
    comma_ = true;
  }

  JsonBuffer& out_;
  bool comma_ = false;  // a value was written at this level: the next one needs ','
};

[[gnu::always_inline]] inline void writeString(DirectJsonWriter& w, std::string_view s) { w.stringValue(s); }
[[gnu::always_inline]] inline void writeKey(DirectJsonWriter& w, std::string_view key) { w.plainKey(key); }
[[gnu::always_inline]] inline void writeField(DirectJsonWriter& w, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  w.keyAndString(key, value);
}
[[gnu::always_inline]] inline void writeReference(DirectJsonWriter& w, std::string_view key, std::string_view uuid) {
  w.reference(key, uuid);
}

}  // namespace courier::fhir
