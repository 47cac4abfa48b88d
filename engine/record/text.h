// Text: a record value's bytes, either its own string or a view of bytes its
// record keeps (TextBuffer).
//
// The HL7 v2 reader takes most values straight from the message: a record keeps
// one copy of the message and its values view it, so a value costs neither a
// copy nor, when longer than std::string's inline room, an allocation and a
// free. Everything else (FHIR input, site maps, values the reader composes or
// decodes, values set by hand) owns its text as a std::string.
//
// Ownership: a borrowed Text is valid while its record's TextBuffer is; moving a
// record moves the buffer's heap block, so the views stay valid. COPYING a Text
// always makes an owned copy, so a copied value (or a copied record) never
// depends on the record it came from. Moving a borrowed Text moves the view: do
// not move values out of a record that is about to be destroyed.
//
// Reads go through view() (or the string_view conversion); the std::string-like
// members are the ones the record's users need.
#pragma once

#include <compare>
#include <cstddef>
#include <cstring>
#include <iosfwd>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace courier::record {

class Text {
 public:
  Text() noexcept {}
  Text(std::string s) : owned_(true) { new (&own_) std::string(std::move(s)); }  // NOLINT: a value is set from text
  Text(std::string_view s) : owned_(true) { new (&own_) std::string(s); }        // NOLINT
  Text(const char* s) : owned_(true) { new (&own_) std::string(s); }             // NOLINT
  // A copy owns its text; an empty Text copies as empty.
  Text(const Text& o) {
    if (!o.empty()) {
      new (&own_) std::string(o.view());
      owned_ = true;
    }
  }
  Text(Text&& o) noexcept { take(o); }
  ~Text() { drop(); }
  Text& operator=(const Text& o) {
    if (this != &o) assign(o.view());
    return *this;
  }
  Text& operator=(Text&& o) noexcept {
    if (this != &o) {
      drop();
      take(o);
    }
    return *this;
  }
  Text& operator=(std::string s) {
    if (owned_) {
      own_ = std::move(s);
    } else {
      new (&own_) std::string(std::move(s));
      owned_ = true;
    }
    return *this;
  }
  Text& operator=(std::string_view s) { return assign(s); }
  Text& operator=(const char* s) { return assign(std::string_view(s)); }

  // Views `bytes` (not empty) without copying them; the caller keeps them alive
  // (the record's TextBuffer). Drops what this held.
  void borrow(std::string_view bytes) noexcept {
    if (owned_) [[unlikely]]
      dropOwned();
    view_ = {bytes.data(), bytes.size()};
  }

  std::string_view view() const { return owned_ ? std::string_view(own_) : std::string_view(view_.data, view_.size); }
  operator std::string_view() const { return view(); }  // NOLINT: a value reads as text
  operator std::string() const { return std::string(view()); }  // NOLINT
  std::string str() const { return std::string(view()); }

  bool empty() const { return owned_ ? own_.empty() : view_.size == 0; }
  size_t size() const { return view().size(); }
  const char* data() const { return view().data(); }
  const char* begin() const { return view().data(); }
  const char* end() const { return view().data() + view().size(); }
  char operator[](size_t i) const { return view()[i]; }
  char front() const { return view().front(); }
  char back() const { return view().back(); }
  size_t find(std::string_view s, size_t pos = 0) const { return view().find(s, pos); }
  size_t find(char c, size_t pos = 0) const { return view().find(c, pos); }
  size_t rfind(char c, size_t pos = std::string_view::npos) const { return view().rfind(c, pos); }
  size_t rfind(std::string_view s, size_t pos = std::string_view::npos) const { return view().rfind(s, pos); }
  size_t find_first_of(std::string_view s, size_t pos = 0) const { return view().find_first_of(s, pos); }
  size_t find_first_not_of(std::string_view s, size_t pos = 0) const { return view().find_first_not_of(s, pos); }
  std::string_view substr(size_t pos, size_t n = std::string_view::npos) const { return view().substr(pos, n); }
  bool starts_with(std::string_view s) const { return view().starts_with(s); }
  bool ends_with(std::string_view s) const { return view().ends_with(s); }

  // Mutators make the text owned first.
  Text& assign(std::string_view s) {
    if (owned_) {
      own_.assign(s.data(), s.size());  // s may be part of own_: assign copes
    } else {
      new (&own_) std::string(s);  // s may be the borrowed bytes, which stay where they are
      owned_ = true;
    }
    return *this;
  }
  void clear() {
    if (owned_)
      own_.clear();
    else
      view_ = {};
  }
  Text& operator+=(std::string_view s) {
    own();
    own_.append(s);
    return *this;
  }
  Text& operator+=(char c) {
    own();
    own_.push_back(c);
    return *this;
  }
  Text& append(std::string_view s) { return *this += s; }
  void push_back(char c) { *this += c; }
  friend bool operator==(const Text& a, const Text& b) { return a.view() == b.view(); }
  friend bool operator==(const Text& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const Text& a, const char* b) { return a.view() == std::string_view(b); }
  friend bool operator==(const Text& a, const std::string& b) { return a.view() == std::string_view(b); }
  friend std::strong_ordering operator<=>(const Text& a, const Text& b) { return a.view() <=> b.view(); }
  friend std::strong_ordering operator<=>(const Text& a, std::string_view b) { return a.view() <=> b; }
  friend std::string operator+(const Text& a, std::string_view b) { return std::string(a.view()).append(b); }
  friend std::string operator+(const Text& a, const char* b) { return std::string(a.view()).append(b); }
  friend std::string operator+(const Text& a, const std::string& b) { return std::string(a.view()).append(b); }
  friend std::string operator+(const Text& a, const Text& b) { return std::string(a.view()).append(b.view()); }
  friend std::string operator+(std::string_view a, const Text& b) { return std::string(a).append(b.view()); }
  friend std::string operator+(const char* a, const Text& b) { return std::string(a).append(b.view()); }
  friend std::string operator+(const std::string& a, const Text& b) { return std::string(a).append(b.view()); }
  friend std::string operator+(std::string&& a, const Text& b) { return std::move(a.append(b.view())); }
  friend std::ostream& operator<<(std::ostream& os, const Text& t);

 private:
  struct View {
    const char* data;
    size_t size;
  };
  void own() {
    if (owned_) return;
    const View v = view_;
    new (&own_) std::string(v.data, v.size);
    owned_ = true;
  }
  void drop() noexcept {
    if (owned_) {
      own_.~basic_string();
      owned_ = false;
    }
  }
  [[gnu::noinline]] void dropOwned() noexcept { drop(); }
  // Moves o's text here (this holds nothing); a borrowed o is left empty.
  void take(Text& o) noexcept {
    if (o.owned_) {
      new (&own_) std::string(std::move(o.own_));
      owned_ = true;
    } else {
      view_ = o.view_;
      o.view_ = {};
    }
  }

  // One or the other, so that a value is 40 bytes and an empty one is built and
  // destroyed without a std::string: own_ when owned_, else view_ (borrowed bytes,
  // or nothing when its size is 0).
  union {
    View view_ = {nullptr, 0};
    std::string own_;
  };
  bool owned_ = false;
};

// The bytes a record's borrowed Texts view: one copy of the message it was read
// from, made once per record. A heap block, so moving the record (and this)
// leaves the views valid. Copying a record copies its Texts as owned text, so a
// copy starts with an empty buffer.
class TextBuffer {
 public:
  TextBuffer() = default;
  TextBuffer(const TextBuffer&) noexcept {}
  TextBuffer& operator=(const TextBuffer&) noexcept { return *this; }  // keeps its own bytes
  TextBuffer(TextBuffer&&) noexcept = default;
  TextBuffer& operator=(TextBuffer&&) noexcept = default;

  // Copies `bytes` into the buffer (replacing what it held) and returns the copy.
  std::string_view keep(std::string_view bytes) {
    bytes_ = std::make_unique_for_overwrite<char[]>(bytes.size() + 1);
    if (!bytes.empty()) std::memcpy(bytes_.get(), bytes.data(), bytes.size());
    size_ = bytes.size();
    return {bytes_.get(), size_};
  }
  std::string_view bytes() const { return {bytes_.get(), size_}; }

 private:
  std::unique_ptr<char[]> bytes_;
  size_t size_ = 0;
};

}  // namespace courier::record

template <>
struct std::hash<courier::record::Text> {
  size_t operator()(const courier::record::Text& t) const noexcept { return std::hash<std::string_view>{}(t.view()); }
};
