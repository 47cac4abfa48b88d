// ServiceDate and FiscalYear: which release is in force is decided by the date
// of service (the discharge date for inpatient stays), never by today's date.
//
// The ICD-10-CM / ICD-10-PCS fiscal year N runs from N-1-10-01 to N-09-30.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/core/result.h"

namespace courier::coding {

struct ServiceDate {
  int year = 0;
  int month = 0;
  int day = 0;

  // yyyymmdd as an integer (20260301), for ordering and HCPCS date ranges.
  uint32_t ordinal() const { return static_cast<uint32_t>(year * 10000 + month * 100 + day); }
  friend bool operator==(const ServiceDate&, const ServiceDate&) = default;
};

// Accepts "2026-03-01" and HL7's "20260301" (time and zone after it ignored).
// Rejects impossible dates (2026-02-30) with kInvalidArgument.
Result<ServiceDate> parseServiceDate(std::string_view text);

// Fiscal year of a date: 2025-09-30 -> 2025, 2025-10-01 -> 2026.
int fiscalYear(const ServiceDate& date);

}  // namespace courier::coding
