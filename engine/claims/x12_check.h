// X12 interchange structure check: what a receiver's front end rejects before it reads a
// claim (a TA1 or 999 rejection), checked here so that tests and the pipeline see it first.
//
// Checks: the ISA is 106 characters with fields of their fixed widths and names the
// delimiters; segments nest ISA > GS > ST..SE > GE > IEA; SE01 counts ST to SE inclusive,
// SE02 = ST02, ST02 unique within its group, GE01/GE02 and IEA01/IEA02 match what they
// close; HL01 counts 1, 2, 3... within a transaction set, each HL02 names an earlier HL,
// HL04 is 1 exactly when some HL names it as parent; every CLM sits under a subscriber or
// patient HL (22/23) with LX numbered from 1 and CLM02 equal to the sum of its SV102s.
// A line break after a segment terminator is allowed.
//
// Errors: kParse with location "segment N (ID)" (1-based over the interchange); the
// message names the rule, never element values (claims hold PHI).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"

namespace courier::claims {

struct X12Claim {
  std::string claim_id;  // CLM01
  int lines = 0;         // LX count
  int diagnoses = 0;     // HI codes
};

struct X12Transaction {
  std::string id;       // ST01, "837"
  std::string control;  // ST02
  int segments = 0;     // SE01
  int hl_count = 0;
  std::vector<X12Claim> claims;
};

struct X12Interchange {
  char element = '*';
  char component = ':';
  char repetition = '^';
  char terminator = '~';
  std::string control;  // ISA13
  int groups = 0;
  std::vector<X12Transaction> transactions;  // of every group, in order
};

[[nodiscard]] Result<X12Interchange> checkX12Interchange(std::string_view text);

}  // namespace courier::claims
