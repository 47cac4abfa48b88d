// Delimiters: the encoding characters of one HL7 v2 message, read from MSH-1
// (field separator) and MSH-2 (component, repetition, escape, sub-component and,
// from v2.7, truncation characters). A character that MSH-2 leaves out is '\0'
// and never matches.
#pragma once

namespace courier::hl7v2 {

struct Delimiters {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
  char truncation = '\0';  // v2.7+ (`#`); '\0' when absent

  // True when `c` is one of the structural characters (not the truncation one).
  bool isSpecial(char c) const {
    return c == field || c == component || c == repetition || (escape && c == escape) ||
           (subcomponent && c == subcomponent);
  }
};

}  // namespace courier::hl7v2
