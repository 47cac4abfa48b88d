#include "adapters/mllp/framer.h"

#include <algorithm>
#include <cstring>

namespace courier::mllp {

namespace {

// Index of the first start or end block in [from, size), or size.
std::size_t findBlockByte(std::string_view s, std::size_t from) {
  const char* p = s.data();
  for (std::size_t i = from; i < s.size(); ++i) {
    const char c = p[i];
    if (c == kEndBlock || c == kStartBlock) return i;
  }
  return s.size();
}

}  // namespace

Framer::Framer(FramerLimits limits) : limits_(limits) {
  if (limits_.max_discard_bytes == 0) {
    limits_.max_discard_bytes = std::max<std::size_t>(limits_.max_frame_bytes * 16, std::size_t{64} << 20);
  }
  limits_.keep_prefix_bytes = std::min(limits_.keep_prefix_bytes, limits_.max_frame_bytes);
}

void Framer::appendPayload(std::string_view bytes, std::vector<FrameEvent>& out) {
  if (bytes.empty()) return;
  if (state_ == State::kPayload) {
    if (current_.size() + bytes.size() <= limits_.max_frame_bytes) {
      current_.append(bytes);
      return;
    }
    // Over the limit: keep only a prefix (for the NAK) and discard the rest.
    current_size_ = current_.size();
    if (current_.size() < limits_.keep_prefix_bytes) {
      current_.append(bytes.substr(0, limits_.keep_prefix_bytes - current_.size()));
    } else {
      current_.resize(limits_.keep_prefix_bytes);
    }
    current_.shrink_to_fit();
    state_ = State::kDiscard;
  }
  // kDiscard
  current_size_ += bytes.size();
  if (current_size_ - limits_.max_frame_bytes > limits_.max_discard_bytes) {
    FrameEvent e;
    e.kind = FrameEvent::Kind::kFatal;
    e.size = current_size_;
    out.push_back(std::move(e));
    current_.clear();
    current_.shrink_to_fit();
    state_ = State::kFailed;
  }
}

void Framer::finishFrame(std::vector<FrameEvent>& out) {
  FrameEvent e;
  if (state_ == State::kPayloadEnd) {
    e.kind = FrameEvent::Kind::kFrame;
    e.size = current_.size();
    ++stats_.frames;
  } else {
    e.kind = FrameEvent::Kind::kTooLarge;
    e.size = current_size_;
    ++stats_.oversize_frames;
  }
  e.payload = std::move(current_);
  current_ = std::string();
  current_size_ = 0;
  out.push_back(std::move(e));
  state_ = State::kIdle;
}

void Framer::feed(std::string_view bytes, std::vector<FrameEvent>& out) {
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  while (i < n) {
    switch (state_) {
      case State::kFailed:
        return;
      case State::kIdle: {
        const void* p = std::memchr(bytes.data() + i, kStartBlock, n - i);
        if (p == nullptr) {
          stats_.skipped_bytes += n - i;
          return;
        }
        const std::size_t at = static_cast<const char*>(p) - bytes.data();
        stats_.skipped_bytes += at - i;
        current_.clear();
        current_size_ = 0;
        state_ = State::kPayload;
        i = at + 1;
        break;
      }
      case State::kPayload: {
        const std::size_t at = findBlockByte(bytes, i);
        appendPayload(bytes.substr(i, at - i), out);
        if (at == n) return;
        if (state_ != State::kPayload) {  // went oversize (or failed) inside this run
          i = at;
          break;
        }
        if (bytes[at] == kStartBlock) {  // a new frame before this one ended
          ++stats_.abandoned_frames;
          current_.clear();
        } else {
          state_ = State::kPayloadEnd;
        }
        i = at + 1;
        break;
      }
      case State::kPayloadEnd:
        if (bytes[i] == kCarriageReturn) {
          finishFrame(out);
          ++i;
        } else {
          state_ = State::kPayload;  // a lone 0x1C is payload; re-read this byte as payload
          appendPayload(std::string_view(&kEndBlock, 1), out);
        }
        break;
      case State::kDiscard: {
        const void* p = std::memchr(bytes.data() + i, kEndBlock, n - i);
        const std::size_t at = p ? static_cast<const char*>(p) - bytes.data() : n;
        appendPayload(bytes.substr(i, at - i), out);
        if (at == n || state_ == State::kFailed) return;
        state_ = State::kDiscardEnd;
        i = at + 1;
        break;
      }
      case State::kDiscardEnd:
        if (bytes[i] == kCarriageReturn) {
          finishFrame(out);
          ++i;
        } else {
          state_ = State::kDiscard;
          appendPayload(std::string_view(&kEndBlock, 1), out);
        }
        break;
    }
  }
}

std::string Framer::frame(std::string_view payload) {
  std::string out;
  appendFrame(payload, out);
  return out;
}

void Framer::appendFrame(std::string_view payload, std::string& out) {
  out.reserve(out.size() + payload.size() + 3);
  out.push_back(kStartBlock);
  out.append(payload);
  out.push_back(kEndBlock);
  out.push_back(kCarriageReturn);
}

}  // namespace courier::mllp
