#include "engine/record/canonical_record.h"

#include <ostream>

namespace courier::record {

std::string Source::hl7Text(std::string_view segment, int occurrence, int field, int rep, int component,
                            int sub) {
  std::string out(segment);
  if (occurrence != 1) out.append("[").append(std::to_string(occurrence)).append("]");
  out.append("-").append(std::to_string(field));
  if (rep != 1) out.append("[").append(std::to_string(rep)).append("]");
  if (component > 0) out.append(".").append(std::to_string(component));
  if (sub > 0) out.append(".").append(std::to_string(sub));
  return out;
}

void Source::setHl7Text(std::string_view segment, int occurrence, int field, int rep, int component, int sub) {
  *this = Source(hl7Text(segment, occurrence, field, rep, component, sub));
}

std::ostream& operator<<(std::ostream& os, const Source& s) { return os << s.str(); }

std::ostream& operator<<(std::ostream& os, const Text& t) { return os << t.view(); }

}  // namespace courier::record
