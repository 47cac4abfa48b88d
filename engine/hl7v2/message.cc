#include "engine/hl7v2/message.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "engine/hl7v2/escape.h"

namespace courier::hl7v2 {
namespace {

constexpr uint32_t kMaxMessageBytes = 0xFFFFFFF0u;  // offsets are 32-bit

bool isTerminator(char c) { return c == '\r' || c == '\n'; }
bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f' || c == 0x1c; }
bool isIdChar(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

ParseError makeError(ErrorCondition cond, std::string msg, std::string segment = {}, int seq = 0,
                     int field = 0) {
  ParseError e;
  e.condition = cond;
  e.message = std::move(msg);
  e.location.segment = std::move(segment);
  e.location.segment_seq = seq;
  e.location.field = field;
  return e;
}

// memchr over raw[start, end); an empty range (whose data() may be null, which
// memchr must never be given) finds nothing.
const void* findByte(std::string_view raw, size_t start, size_t end, char c) {
  return start < end ? std::memchr(raw.data() + start, c, end - start) : nullptr;
}

// The n-th (1-based) part of raw[begin, end) split on `delim`. Returns 0 and the
// part's span when it exists; otherwise the number of delimiters missing to
// create it, with the span set to the (empty) end of the container.
int findPart(std::string_view raw, size_t begin, size_t end, char delim, int n, size_t& pb, size_t& pe) {
  size_t start = begin;
  int index = 1;
  if (delim != '\0') {
    while (index < n) {
      const void* hit = findByte(raw, start, end, delim);
      if (!hit) {
        pb = pe = end;
        return n - index;
      }
      start = static_cast<const char*>(hit) - raw.data() + 1;
      ++index;
    }
  } else if (n > 1) {
    pb = pe = end;
    return -1;  // no such delimiter declared: the part cannot exist
  }
  const void* stop = delim != '\0' ? findByte(raw, start, end, delim) : nullptr;
  pb = start;
  pe = stop ? static_cast<size_t>(static_cast<const char*>(stop) - raw.data()) : end;
  return 0;
}

std::string_view part(std::string_view s, char delim, int n) {
  size_t b, e;
  if (findPart(s, 0, s.size(), delim, n, b, e) != 0) return {};
  return s.substr(b, e - b);
}

}  // namespace

// ---- Segment ----------------------------------------------------------------

std::string_view Segment::name() const { return msg_->fieldOf(msg_->segments_[index_], 0); }

int Segment::fieldCount() const {
  const auto& s = msg_->segments_[index_];
  int stored = static_cast<int>(s.field_slots) - 1;
  return index_ == 0 ? stored + 1 : stored;  // MSH-1 is not a stored slot
}

std::string_view Segment::raw() const {
  const auto& s = msg_->segments_[index_];
  return msg_->raw_.substr(s.begin, s.end - s.begin);
}

// ---- Message: construction --------------------------------------------------

Message::Message(const Message& other)
    : raw_(other.raw_),
      body_begin_(other.body_begin_),
      delims_(other.delims_),
      charset_(other.charset_),
      segments_(other.segments_),
      field_starts_(other.field_starts_) {
  if (other.owned_) {
    owned_ = std::make_unique<std::string>(*other.owned_);
    // raw_ may be a part of the owned bytes (after reset()): keep the same part.
    raw_ = std::string_view(*owned_).substr(static_cast<size_t>(other.raw_.data() - other.owned_->data()),
                                            other.raw_.size());
  }
}

Message& Message::operator=(const Message& other) {
  if (this != &other) {
    Message copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Result<Message, ParseError> Message::parse(std::string_view bytes) {
  Message m;
  auto r = m.reset(bytes);
  if (!r) return Unexpected(std::move(r).error());
  return m;
}

Result<Message, ParseError> Message::parseOwned(std::string bytes) {
  Message m;
  m.owned_ = std::make_unique<std::string>(std::move(bytes));
  auto r = m.reset(*m.owned_);
  if (!r) return Unexpected(std::move(r).error());
  return m;
}

Result<void, ParseError> Message::reset(std::string_view bytes) {
  // Drop the owned copy unless `bytes` lie inside it (then they are still needed).
  if (owned_ && !(bytes.data() >= owned_->data() && bytes.data() + bytes.size() <= owned_->data() + owned_->size()))
    owned_.reset();
  raw_ = bytes;
  return index();
}

void Message::adoptOwned(std::string bytes) {
  owned_ = std::make_unique<std::string>(std::move(bytes));
  raw_ = *owned_;
}

// ---- Message: indexing ------------------------------------------------------

Result<void, ParseError> Message::index() {
  segments_.clear();
  field_starts_.clear();
  // One reservation up front instead of repeated growth (typical HL7: a segment
  // per ~80 bytes, a field per ~8).
  segments_.reserve(raw_.size() / 48 + 4);
  field_starts_.reserve(raw_.size() / 6 + 16);
  delims_ = Delimiters{};
  charset_ = Charset::kAscii;
  if (raw_.size() > kMaxMessageBytes)
    return Unexpected(makeError(ErrorCondition::kValueTooLong, "message is larger than 4 GiB"));

  const char* data = raw_.data();
  const size_t size = raw_.size();
  size_t pos = 0;
  if (size >= 3 && std::memcmp(data, "\xEF\xBB\xBF", 3) == 0) pos = 3;  // UTF-8 BOM
  while (pos < size && (isBlank(data[pos]) || data[pos] == 0x0b)) ++pos;
  body_begin_ = static_cast<uint32_t>(pos);

  if (size - pos < 4 || std::memcmp(data + pos, "MSH", 3) != 0)
    return Unexpected(makeError(ErrorCondition::kSegmentSequence,
                                "a message must begin with an MSH segment", "MSH", 1));
  const char fs = data[pos + 3];
  if (isIdChar(fs) || (fs >= 'a' && fs <= 'z') || isBlank(fs) || fs == '\0')
    return Unexpected(makeError(ErrorCondition::kDataType,
                                "MSH-1 (field separator) must be a punctuation character", "MSH", 1, 1));

  // MSH-2: encoding characters, positionally component, repetition, escape,
  // sub-component, truncation. A character repeating an earlier one is ignored.
  char enc[5] = {0, 0, 0, 0, 0};
  int n_enc = 0;
  size_t p = pos + 4;
  for (; p < size && data[p] != fs && !isTerminator(data[p]); ++p) {
    char c = data[p];
    if (isIdChar(c) || (c >= 'a' && c <= 'z') || isBlank(c) || c == '\0' || n_enc == 5)
      return Unexpected(makeError(ErrorCondition::kDataType,
                                  "MSH-2 must hold up to five distinct encoding characters", "MSH", 1, 2));
    if (std::find(enc, enc + n_enc, c) != enc + n_enc) continue;
    enc[n_enc++] = c;
  }
  if (n_enc == 0)
    return Unexpected(makeError(ErrorCondition::kRequiredFieldMissing,
                                "MSH-2 (encoding characters) is empty", "MSH", 1, 2));
  delims_.field = fs;
  delims_.component = enc[0];
  delims_.repetition = enc[1];
  delims_.escape = enc[2];
  delims_.subcomponent = enc[3];
  delims_.truncation = enc[4];

  // One pass over the bytes: every field separator and terminator.
  uint32_t seg_start = static_cast<uint32_t>(pos);
  bool open = false;
  auto openSegment = [&] {
    segments_.push_back({seg_start, 0, static_cast<uint32_t>(field_starts_.size()), 0, 0});
    field_starts_.push_back(seg_start);
    open = true;
  };
  auto onField = [&](uint32_t o) {
    if (!open) openSegment();
    field_starts_.push_back(o + 1);
  };
  auto onTerminator = [&](uint32_t o) {
    if (!open) {
      if (o == seg_start) {  // empty line: belongs to the previous terminator
        if (!segments_.empty()) segments_.back().term_end = o + 1;
        seg_start = o + 1;
        return;
      }
      // A line of only whitespace between segments counts as an empty line too.
      bool blank = segments_.size() > 0;
      for (uint32_t k = seg_start; blank && k < o; ++k) blank = isBlank(data[k]);
      if (blank) {
        segments_.back().term_end = o + 1;
        seg_start = o + 1;
        return;
      }
      openSegment();
    }
    SegmentIndex& s = segments_.back();
    s.end = o;
    s.term_end = o + 1;
    s.field_slots = static_cast<uint32_t>(field_starts_.size()) - s.first_field;
    open = false;
    seg_start = o + 1;
  };

  size_t i = pos;
#if defined(__SSE2__)
  const __m128i v_fs = _mm_set1_epi8(fs);
  const __m128i v_cr = _mm_set1_epi8('\r');
  const __m128i v_lf = _mm_set1_epi8('\n');
  for (; i + 16 <= size; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    __m128i hits = _mm_or_si128(_mm_cmpeq_epi8(v, v_fs), _mm_or_si128(_mm_cmpeq_epi8(v, v_cr), _mm_cmpeq_epi8(v, v_lf)));
    unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(hits));
    while (mask != 0) {
      unsigned bit = static_cast<unsigned>(__builtin_ctz(mask));
      uint32_t o = static_cast<uint32_t>(i + bit);
      if (data[o] == fs) onField(o);
      else onTerminator(o);
      mask &= mask - 1;
    }
  }
#endif
  for (; i < size; ++i) {
    char c = data[i];
    if (c == fs) onField(static_cast<uint32_t>(i));
    else if (isTerminator(c)) onTerminator(static_cast<uint32_t>(i));
  }
  if (open || seg_start < size) {
    if (!open) openSegment();
    SegmentIndex& s = segments_.back();
    s.end = static_cast<uint32_t>(size);
    s.term_end = static_cast<uint32_t>(size);
    s.field_slots = static_cast<uint32_t>(field_starts_.size()) - s.first_field;
  }

  // Trailing whitespace (or a stray MLLP end byte) is not a segment.
  while (segments_.size() > 1) {
    const SegmentIndex& last = segments_.back();
    bool blank = last.field_slots == 1;
    for (uint32_t k = last.begin; blank && k < last.end; ++k) blank = isBlank(data[k]);
    if (!blank) break;
    field_starts_.resize(last.first_field);
    segments_.pop_back();
    segments_.back().term_end = static_cast<uint32_t>(size);
  }

  // Every segment id checked in place; the Result (and its error) is built only for a bad one.
  for (uint32_t k = 0; k < segments_.size(); ++k) {
    const SegmentIndex& s = segments_[k];
    if (s.field_slots > 0) [[likely]] {
      const uint32_t id_end = s.field_slots > 1 ? field_starts_[s.first_field + 1] - 1 : s.end;
      const char* id = data + s.begin;
      if (id_end - s.begin == 3 && isIdChar(id[0]) && isIdChar(id[1]) && isIdChar(id[2])) [[likely]]
        continue;
    }
    auto r = validateSegmentId(s, k);
    if (!r) return r;
  }

  // MSH-18, first repetition.
  std::string_view msh18 = part(fieldOf(segments_[0], 18), delims_.repetition, 1);
  charset_ = charsetFromName(msh18);
  return {};
}

Result<void, ParseError> Message::validateSegmentId(const SegmentIndex& seg, uint32_t ordinal) const {
  std::string_view id = fieldOf(seg, 0);
  bool ok = id.size() == 3 && isIdChar(id[0]) && isIdChar(id[1]) && isIdChar(id[2]);
  if (ok) return {};
  ParseError e = makeError(ErrorCondition::kSegmentSequence,
                           "segment " + std::to_string(ordinal + 1) +
                               " does not start with a valid segment id (three capital letters or digits)");
  return Unexpected(std::move(e));
}

std::string_view Message::fieldOf(const SegmentIndex& seg, int n) const {
  if (n < 0) return {};
  bool is_msh = &seg == &segments_[0];
  if (is_msh && n >= 1) {
    if (n == 1) return raw_.substr(seg.begin + 3, 1);
    n -= 1;
  }
  if (static_cast<uint32_t>(n) >= seg.field_slots) return {};
  uint32_t b = field_starts_[seg.first_field + n];
  uint32_t e = static_cast<uint32_t>(n) + 1 < seg.field_slots ? field_starts_[seg.first_field + n + 1] - 1 : seg.end;
  return raw_.substr(b, e - b);
}

// ---- Message: reading -------------------------------------------------------

const Message::SegmentIndex* Message::locate(std::string_view id, int occurrence) const {
  int seen = 0;
  for (const auto& s : segments_) {
    if (s.end - s.begin >= 3 && std::memcmp(raw_.data() + s.begin, id.data(), 3) == 0 &&
        (s.end - s.begin == 3 || raw_[s.begin + 3] == delims_.field)) {
      if (++seen == occurrence) return &s;
    }
  }
  return nullptr;
}

std::optional<Segment> Message::findSegment(std::string_view id, int occurrence) const {
  if (id.size() != 3) return std::nullopt;
  const SegmentIndex* s = locate(id, occurrence);
  if (!s) return std::nullopt;
  return Segment(this, static_cast<uint32_t>(s - segments_.data()));
}

int Message::countSegments(std::string_view id) const {
  if (id.size() != 3) return 0;
  int n = 0;
  while (locate(id, n + 1)) ++n;
  return n;
}

std::string_view Message::rawValue(const Path& path) const {
  const SegmentIndex* seg = locate(path.segmentId(), path.segment_rep);
  if (!seg) return {};
  std::string_view f = fieldOf(*seg, path.field);
  if (seg == &segments_[0] && path.field <= 2) return f;  // MSH-1/MSH-2 are atomic
  std::string_view v = part(f, delims_.repetition, path.repetition);
  if (path.component > 0) {
    v = part(v, delims_.component, path.component);
    if (path.subcomponent > 0) v = part(v, delims_.subcomponent, path.subcomponent);
  }
  return v;
}

std::string Message::get(const Path& path) const {
  std::string_view raw = rawValue(path);
  bool is_delims = path.field <= 2 && path.segmentId() == "MSH";
  std::string decoded;
  if (!is_delims && needsDecoding(raw, delims_)) {
    decoded = decode(raw, delims_);
  } else {
    decoded.assign(raw);
  }
  if (charset_ == Charset::kLatin1) {
    bool high = std::any_of(decoded.begin(), decoded.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    if (high) {
      std::string utf8;
      appendLatin1AsUtf8(decoded, utf8);
      return utf8;
    }
  }
  return decoded;
}

std::string Message::get(std::string_view path) const {
  auto p = Path::parse(path);
  return p ? get(*p) : std::string();
}

namespace {
const Path& headerPath(int which) {
  static const Path paths[4] = {*Path::parse("MSH-9.1"), *Path::parse("MSH-9.2"), *Path::parse("MSH-10"),
                                *Path::parse("MSH-12.1")};
  return paths[which];
}
}  // namespace

std::string_view Message::messageType() const { return rawValue(headerPath(0)); }
std::string_view Message::triggerEvent() const { return rawValue(headerPath(1)); }
std::string_view Message::controlId() const { return rawValue(headerPath(2)); }
std::string_view Message::version() const { return rawValue(headerPath(3)); }

// ---- Message: writing -------------------------------------------------------

Result<void> Message::set(const Path& path, std::string_view value) {
  std::string latin1;
  if (charset_ == Charset::kLatin1) {
    auto r = appendUtf8AsLatin1(value, latin1);
    if (!r) return Unexpected(Error(r.error().code, r.error().message, path.toString()));
    value = latin1;
  }
  // Without an escape character (MSH-2 shorter than three characters) a
  // delimiter or line break in the value cannot be written faithfully.
  if (delims_.escape == '\0') {
    for (char c : value) {
      if (delims_.isSpecial(c) || (delims_.truncation != '\0' && c == delims_.truncation) || c == '\r' ||
          c == '\n')
        return Unexpected(Error(ErrorCode::kInvalidArgument,
                                "value holds a delimiter or line break and MSH-2 declares no escape character",
                                path.toString()));
    }
  }
  std::string encoded;
  appendEncoded(value, delims_, encoded);
  return setRaw(path, encoded);
}

Result<void> Message::setRaw(const Path& path, std::string_view encoded) {
  if (segments_.empty()) return Unexpected(Error(ErrorCode::kInvalidArgument, "message is empty"));
  if (path.segmentId() == "MSH" && path.segment_rep == 1 && path.field <= 2)
    return Unexpected(Error(ErrorCode::kUnsupported, "MSH-1 and MSH-2 cannot be changed", path.toString()));

  std::string insert;
  size_t b = 0, e = 0;
  const SegmentIndex* seg = locate(path.segmentId(), path.segment_rep);
  if (!seg) {
    if (path.segment_rep != countSegments(path.segmentId()) + 1)
      return Unexpected(Error(ErrorCode::kNotFound,
                              "segment does not exist and is not the next occurrence", path.toString()));
    // The new segment goes right after the last one (before any blank lines or
    // trailing whitespace folded into its terminator) and uses the message's own
    // terminator: the first one after MSH, "\r" when MSH has none.
    auto firstTerminator = [this](const SegmentIndex& s) -> std::string_view {
      if (s.term_end == s.end) return {};
      size_t n = (raw_[s.end] == '\r' && s.end + 1 < s.term_end && raw_[s.end + 1] == '\n') ? 2 : 1;
      return raw_.substr(s.end, n);
    };
    const SegmentIndex& last = segments_.back();
    std::string_view term = firstTerminator(segments_[0]);
    if (term.empty() || !isTerminator(term[0])) term = "\r";
    std::string_view last_term = firstTerminator(last);
    bool last_terminated = !last_term.empty() && isTerminator(last_term[0]);
    b = e = last_terminated ? last.end + last_term.size() : last.term_end;
    if (!last_terminated) insert.append(term);
    insert.append(path.segmentId());
    insert.append(static_cast<size_t>(path.field), delims_.field);
    insert.append(static_cast<size_t>(path.repetition - 1), delims_.repetition);
    if (path.component > 0) insert.append(static_cast<size_t>(path.component - 1), delims_.component);
    if (path.subcomponent > 0) insert.append(static_cast<size_t>(path.subcomponent - 1), delims_.subcomponent);
    insert.append(encoded);
    if (last_terminated) insert.append(term);
  } else {
    bool is_msh = seg == &segments_[0];
    int slot = is_msh ? path.field - 1 : path.field;
    int present = static_cast<int>(seg->field_slots) - 1;
    if (slot > present) {
      b = e = seg->end;
      insert.append(static_cast<size_t>(slot - present), delims_.field);
    } else {
      b = field_starts_[seg->first_field + slot];
      e = static_cast<uint32_t>(slot) + 1 < seg->field_slots ? field_starts_[seg->first_field + slot + 1] - 1 : seg->end;
    }
    struct Level { char delim; int index; };
    Level levels[3] = {{delims_.repetition, path.repetition},
                       {delims_.component, path.component},
                       {delims_.subcomponent, path.subcomponent}};
    for (const Level& level : levels) {
      if (level.index == 0) break;
      if (level.delim == '\0' && level.index > 1)
        return Unexpected(Error(ErrorCode::kInvalidArgument,
                                "this message declares no delimiter for that level (MSH-2)", path.toString()));
      if (!insert.empty()) {
        insert.append(static_cast<size_t>(level.index - 1), level.delim);
        continue;
      }
      size_t pb, pe;
      int missing = findPart(raw_, b, e, level.delim, level.index, pb, pe);
      if (missing > 0) {
        b = e;
        insert.append(static_cast<size_t>(missing), level.delim);
      } else {
        b = pb;
        e = pe;
      }
    }
    insert.append(encoded);
  }

  std::string next;
  next.reserve(raw_.size() + insert.size());
  next.append(raw_.substr(0, b));
  next.append(insert);
  next.append(raw_.substr(e));
  Message updated;
  updated.adoptOwned(std::move(next));
  auto r = updated.index();
  if (!r) return Unexpected(Error(ErrorCode::kInvalidArgument, "value breaks the message: " + r.error().message, path.toString()));
  *this = std::move(updated);
  return Ok();
}

std::string Message::rebuildFromIndex() const {
  std::string out;
  out.reserve(raw_.size());
  out.append(raw_.substr(0, body_begin_));
  for (size_t k = 0; k < segments_.size(); ++k) {
    const SegmentIndex& s = segments_[k];
    for (uint32_t slot = 0; slot < s.field_slots; ++slot) {
      if (slot > 0) out.push_back(delims_.field);
      uint32_t b = field_starts_[s.first_field + slot];
      uint32_t e = slot + 1 < s.field_slots ? field_starts_[s.first_field + slot + 1] - 1 : s.end;
      out.append(raw_.substr(b, e - b));
    }
    out.append(raw_.substr(s.end, s.term_end - s.end));
  }
  if (!segments_.empty()) out.append(raw_.substr(segments_.back().term_end));
  return out;
}

}  // namespace courier::hl7v2
