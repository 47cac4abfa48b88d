// Framer: the MLLP framing layer, sans-I/O (bytes in, frames out).
//
// An MLLP frame is  0x0B <payload> 0x1C 0x0D.  The framer is fed whatever the
// transport read (any split: one byte at a time or many frames at once) and
// appends one FrameEvent per complete frame to the caller's vector:
//
//   Framer framer({.max_frame_bytes = 1 << 20});
//   std::vector<FrameEvent> events;
//   framer.feed(bytes, events);
//   for (auto& e : events) { if (e.kind == FrameEvent::Kind::kFrame) use(e.payload); ... }
//
// - Bytes outside a frame (before a start block) are skipped and counted.
// - A start block inside a frame abandons the partial frame (counted) and starts anew.
// - 0x1C not followed by 0x0D is payload (HL7 text never holds 0x1C, so this only
//   keeps odd senders working rather than guessing).
// - A payload longer than max_frame_bytes is not buffered: the rest of it is
//   discarded until its end block, then one kTooLarge event reports its size with
//   the first `keep_prefix_bytes` (so the caller can salvage MSH-10 for the NAK);
//   the connection remains usable. When the discarded run exceeds
//   `max_discard_bytes` without an end block, framing is lost: a kFatal event is
//   emitted and every later byte is ignored (the caller closes the connection).
//
// Thread-safety: none; one Framer per connection. No I/O, no allocation beyond
// the payloads it hands out, so it is cheap to fuzz (tests/fuzz/mllp_framer_fuzz.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace courier::mllp {

inline constexpr char kStartBlock = 0x0B;
inline constexpr char kEndBlock = 0x1C;
inline constexpr char kCarriageReturn = 0x0D;
// MLLP release 2 commit acknowledgement payloads (one byte inside a frame).
inline constexpr char kCommitAck = 0x06;
inline constexpr char kCommitNak = 0x15;

struct FramerLimits {
  std::size_t max_frame_bytes = 1 << 20;    // payload bytes, excluding the framing
  std::size_t keep_prefix_bytes = 4096;     // kept from an oversize frame for its NAK
  std::size_t max_discard_bytes = 0;        // 0: 16 x max_frame_bytes (at least 64 MiB)
};

struct FrameEvent {
  enum class Kind {
    kFrame,     // payload holds a complete frame's payload
    kTooLarge,  // payload holds its first bytes; size is the whole payload size
    kFatal,     // framing lost; close the connection
  };
  Kind kind = Kind::kFrame;
  std::string payload;
  std::size_t size = 0;  // payload bytes of the frame as sent
};

struct FramerStats {
  std::uint64_t frames = 0;
  std::uint64_t skipped_bytes = 0;     // outside any frame
  std::uint64_t abandoned_frames = 0;  // a start block arrived inside a frame
  std::uint64_t oversize_frames = 0;
};

class Framer {
 public:
  explicit Framer(FramerLimits limits = {});

  // Consumes all of `bytes`; appends complete frames (in order) to `out`.
  void feed(std::string_view bytes, std::vector<FrameEvent>& out);

  // True while a frame has started and not ended (for the read timeout).
  bool inFrame() const { return state_ != State::kIdle && state_ != State::kFailed; }
  bool failed() const { return state_ == State::kFailed; }
  const FramerStats& stats() const { return stats_; }

  // Wraps `payload` in MLLP framing.
  static std::string frame(std::string_view payload);
  static void appendFrame(std::string_view payload, std::string& out);

 private:
  enum class State {
    kIdle,        // between frames: skipping until a start block
    kPayload,     // inside a frame
    kPayloadEnd,  // saw 0x1C inside a frame; 0x0D ends it
    kDiscard,     // inside an oversize frame
    kDiscardEnd,  // saw 0x1C inside an oversize frame
    kFailed,      // framing lost for good
  };

  void appendPayload(std::string_view bytes, std::vector<FrameEvent>& out);
  void finishFrame(std::vector<FrameEvent>& out);

  FramerLimits limits_;
  State state_ = State::kIdle;
  std::string current_;        // payload so far (or kept prefix when discarding)
  std::size_t current_size_ = 0;  // payload bytes seen in this frame
  FramerStats stats_;
};

}  // namespace courier::mllp
