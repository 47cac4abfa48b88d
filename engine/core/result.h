// Result<T, E>: a value or an error, shaped like C++23 std::expected so that the
// switch is mechanical once every supported compiler has it (clang 14 does not).
//
// Code in engine/ and adapters/ does not throw: a fallible function returns
// Result<T>. Accessing value() of an error Result (or error() of a value) is a
// programmer error and aborts.
#pragma once

#include <cassert>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

#include "engine/core/error.h"

namespace courier {

// Wraps an error so that it converts into any Result<T, E>.
template <typename E>
class Unexpected {
 public:
  explicit Unexpected(E e) : error_(std::move(e)) {}
  E& error() & { return error_; }
  E&& error() && { return std::move(error_); }
  const E& error() const& { return error_; }

 private:
  E error_;
};

template <typename E>
Unexpected(E) -> Unexpected<E>;

template <typename T, typename E = Error>
class [[nodiscard]] Result {
 public:
  using value_type = T;
  using error_type = E;

  Result() requires std::is_default_constructible_v<T> : v_(std::in_place_index<0>) {}
  Result(const T& v) : v_(std::in_place_index<0>, v) {}             // NOLINT: implicit by design
  Result(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}       // NOLINT
  template <typename G>
  Result(Unexpected<G> u) : v_(std::in_place_index<1>, std::move(u).error()) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { check(true); return std::get<0>(v_); }
  const T& value() const& { check(true); return std::get<0>(v_); }
  T&& value() && { check(true); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  E& error() & { check(false); return std::get<1>(v_); }
  const E& error() const& { check(false); return std::get<1>(v_); }
  E&& error() && { check(false); return std::get<1>(std::move(v_)); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  void check(bool want_value) const {
    if (has_value() != want_value) std::abort();
  }
  std::variant<T, E> v_;
};

// Result<void>: success carries nothing.
template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  Result() = default;
  template <typename G>
  Result(Unexpected<G> u) : error_(std::move(u).error()), ok_(false) {}  // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const {
    if (!ok_) std::abort();
  }
  const E& error() const& {
    if (ok_) std::abort();
    return error_;
  }
  E&& error() && {
    if (ok_) std::abort();
    return std::move(error_);
  }

 private:
  E error_{};
  bool ok_ = true;
};

inline Result<void> Ok() { return {}; }

}  // namespace courier
