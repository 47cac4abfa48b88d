// Retry-After (RFC 9110 section 10.2.3), sans-I/O: how long a receiver asked us to wait.
//
//   parseRetryAfter("120", now)                           -> 120 s
//   parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now) -> that time minus now (0 if past)
//
// Accepts delay-seconds and the three HTTP-date forms (IMF-fixdate, the obsolete RFC 850
// and asctime forms). Anything else is nullopt (the caller then uses its own back-off).
// Delays are capped at one day, so a bogus value cannot park a queue for years.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace courier::http {

inline constexpr std::chrono::milliseconds kMaxRetryAfter = std::chrono::hours(24);

[[nodiscard]] std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value,
                                                                       std::chrono::system_clock::time_point now);

// An HTTP-date as a time point; nullopt when it is not one of the three forms.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> parseHttpDate(std::string_view value);

}  // namespace courier::http
