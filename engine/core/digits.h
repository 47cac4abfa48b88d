// Fixed-width decimal digits, written by hand: dates and times on paths that run once per
// message (an ACK's timestamp, a claim line's date), where snprintf's or strftime's format
// parsing showed in the profile.
#pragma once

namespace courier {

// Writes `value` (>= 0) as exactly `digits` decimal digits at `out`, zero-padded (digits
// above the width are dropped); returns the end.
inline char* putDigits(char* out, int value, int digits) {
  for (int k = digits - 1; k >= 0; --k) {
    out[k] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + digits;
}

}  // namespace courier
