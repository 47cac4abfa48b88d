// Message: one HL7 v2 message, indexed once and decoded only where read.
//
// Parsing scans the bytes a single time and records where each segment and
// field begins; nothing is copied and nothing is decoded. Reading a value splits
// the field into repetitions, components and sub-components on demand and
// resolves escapes (and MSH-18's character set) only for that value.
//
//   auto msg = Message::parse(bytes);          // views `bytes`: keep them alive
//   if (!msg) return msg.error();              // ParseError: HL7 code + location
//   std::string family = msg->get(kPid5_1);    // compiled Path, decoded value
//
// Unmodified, serialize() returns the input byte for byte. set() re-encodes
// only the value it changes; every other byte stays as it was received.
//
// Thread-safety: const methods may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"
#include "engine/hl7v2/charset.h"
#include "engine/hl7v2/delimiters.h"
#include "engine/hl7v2/parse_error.h"
#include "engine/hl7v2/path.h"

namespace courier::hl7v2 {

class Message;

// A view of one segment of a Message; valid while the Message is unchanged.
class Segment {
 public:
  std::string_view name() const;
  // Number of fields after the segment id. For MSH this counts MSH-1 (the
  // field separator) and MSH-2 (the encoding characters).
  int fieldCount() const;
  // Raw (still encoded) field n, 1-based; empty when absent. Inline: a converter
  // reads a field per value it takes, a few hundred times per message.
  inline std::string_view field(int n) const;
  // The segment's bytes without its terminator.
  std::string_view raw() const;

 private:
  friend class Message;
  Segment(const Message* m, uint32_t index) : msg_(m), index_(index) {}
  const Message* msg_;
  uint32_t index_;
};

class Message {
 public:
  Message() = default;
  Message(const Message& other);
  Message& operator=(const Message& other);
  Message(Message&&) noexcept = default;
  Message& operator=(Message&&) noexcept = default;

  // Indexes `bytes` without copying them; they must outlive the Message (or
  // until set() is called, after which the Message owns a copy).
  static Result<Message, ParseError> parse(std::string_view bytes);
  // Takes ownership of `bytes`.
  static Result<Message, ParseError> parseOwned(std::string bytes);
  // Re-indexes this object with new bytes, reusing its index storage: the
  // allocation-free way to parse many messages one after another.
  Result<void, ParseError> reset(std::string_view bytes);

  std::string_view raw() const { return raw_; }
  std::string serialize() const { return std::string(raw_); }
  const Delimiters& delimiters() const { return delims_; }
  Charset charset() const { return charset_; }

  size_t segmentCount() const { return segments_.size(); }
  Segment segment(size_t i) const { return Segment(this, static_cast<uint32_t>(i)); }
  // The `occurrence`-th segment with that id (1-based), in message order.
  std::optional<Segment> findSegment(std::string_view id, int occurrence = 1) const;
  int countSegments(std::string_view id) const;

  // The still-encoded bytes at `path` (empty when absent). Without an explicit
  // repetition the first one is read.
  std::string_view rawValue(const Path& path) const;
  // The decoded value at `path`: escapes resolved, UTF-8 (see charset.h).
  std::string get(const Path& path) const;
  // Convenience for tools and tests: parses `path` first; an invalid path reads as empty.
  std::string get(std::string_view path) const;
  bool has(const Path& path) const { return !rawValue(path).empty(); }

  // Header shortcuts (raw views of MSH fields).
  std::string_view messageType() const;   // MSH-9.1
  std::string_view triggerEvent() const;  // MSH-9.2
  std::string_view controlId() const;     // MSH-10
  std::string_view version() const;       // MSH-12.1

  // Writes `value` (plain text, encoded here) at `path`, creating the segment
  // (only as the next occurrence), field, repetition, component or
  // sub-component when missing. MSH-1 and MSH-2 cannot be changed.
  Result<void> set(const Path& path, std::string_view value);
  // Same, with bytes already encoded for this message's delimiters.
  Result<void> setRaw(const Path& path, std::string_view encoded);

  // Rebuilds the message from its index (segments, fields, separators and
  // terminators) rather than returning the stored bytes; equal to raw() when
  // the index covers every byte. Used by `courier parse --roundtrip`.
  std::string rebuildFromIndex() const;

 private:
  friend class Segment;
  struct SegmentIndex {
    uint32_t begin;        // offset of the segment id
    uint32_t end;          // offset one past the last byte (terminator excluded)
    uint32_t first_field;  // index in field_starts_ of the segment id
    uint32_t field_slots;  // entries used in field_starts_ (id + fields)
    uint32_t term_end;     // offset one past the terminator bytes that follow
  };

  Result<void, ParseError> index();
  Result<void, ParseError> validateSegmentId(const SegmentIndex& seg, uint32_t seq) const;
  std::string_view fieldOf(const SegmentIndex& seg, int n) const;
  const SegmentIndex* locate(std::string_view id, int occurrence) const;
  void adoptOwned(std::string bytes);

  std::unique_ptr<std::string> owned_;  // set when the Message owns its bytes
  std::string_view raw_;
  uint32_t body_begin_ = 0;  // after a BOM and leading whitespace
  Delimiters delims_;
  Charset charset_ = Charset::kAscii;
  std::vector<SegmentIndex> segments_;
  std::vector<uint32_t> field_starts_;  // per segment: id start, then each field's start
};

inline std::string_view Segment::field(int n) const {
  const Message::SegmentIndex& s = msg_->segments_[index_];
  // MSH (its MSH-1 is not a stored slot), an absent field and n < 0 take the general path.
  if (index_ == 0 || static_cast<uint32_t>(n) >= s.field_slots) [[unlikely]]
    return msg_->fieldOf(s, n);
  const uint32_t* starts = msg_->field_starts_.data() + s.first_field;
  const uint32_t b = starts[n];
  const uint32_t e = static_cast<uint32_t>(n) + 1 < s.field_slots ? starts[n + 1] - 1 : s.end;
  return {msg_->raw_.data() + b, e - b};
}

}  // namespace courier::hl7v2
