#include "engine/hl7v2/batch.h"

#include <charconv>
#include <climits>
#include <cstring>

namespace courier::hl7v2 {
namespace {

std::string lineRef(int line) { return " (line " + std::to_string(line) + ")"; }

ParseError sequenceError(std::string msg, std::string_view segment, int line) {
  ParseError e;
  e.condition = ErrorCondition::kSegmentSequence;
  e.message = std::move(msg) + lineRef(line);
  e.location.segment = std::string(segment);
  return e;
}

bool looksLikeSegment(std::string_view line) {
  auto id = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (line.size() < 3 || !id(line[0]) || !id(line[1]) || !id(line[2])) return false;
  if (line.size() == 3) return true;
  char d = line[3];
  return !id(d) && !(d >= 'a' && d <= 'z') && d != ' ';
}

bool isFraming(char c) { return c == 0x0b || c == 0x1c || c == ' ' || c == '\t'; }

// BTS-1 / FTS-1 as a number, or -1. The field separator is the 4th byte.
int countField(std::string_view line) {
  if (line.size() < 5) return -1;
  char fs = line[3];
  std::string_view rest = line.substr(4);
  size_t end = rest.find(fs);
  if (end != std::string_view::npos) rest = rest.substr(0, end);
  int n = -1;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
  if (ec != std::errc() || p != rest.data() + rest.size()) return -1;
  return n;
}

}  // namespace

Result<BatchFile, ParseError> splitBatch(std::string_view bytes) {
  BatchFile out;
  size_t pos = 0;
  if (bytes.size() >= 3 && std::memcmp(bytes.data(), "\xEF\xBB\xBF", 3) == 0) pos = 3;

  bool in_file = false, in_batch = false;
  int batch_messages = 0;
  int declared_total = -1;
  size_t msg_begin = std::string_view::npos, msg_end = 0;
  int line_no = 0;

  auto closeMessage = [&] {
    if (msg_begin != std::string_view::npos) {
      out.messages.push_back(bytes.substr(msg_begin, msg_end - msg_begin));
      ++batch_messages;
      msg_begin = std::string_view::npos;
    }
  };

  while (pos < bytes.size()) {
    size_t eol = bytes.find_first_of("\r\n", pos);
    size_t line_end = eol == std::string_view::npos ? bytes.size() : eol;
    size_t next = line_end;
    if (next < bytes.size()) {
      next += (bytes[next] == '\r' && next + 1 < bytes.size() && bytes[next + 1] == '\n') ? 2 : 1;
    }
    ++line_no;
    size_t start = pos;
    while (start < line_end && isFraming(bytes[start])) ++start;
    std::string_view line = bytes.substr(start, line_end - start);
    while (!line.empty() && isFraming(line.back())) line.remove_suffix(1);
    pos = next;
    if (line.empty()) continue;

    if (!looksLikeSegment(line)) {
      closeMessage();
      out.warnings.push_back("skipped a line that is not an HL7 segment" + lineRef(line_no));
      continue;
    }
    std::string_view id = line.substr(0, 3);
    if (id == "MSH") {
      closeMessage();
      msg_begin = start;
      msg_end = next;
    } else if (id == "FHS") {
      if (in_file)
        return Unexpected(sequenceError("FHS inside a file that was not closed by FTS", id, line_no));
      closeMessage();
      in_file = true;
      out.file_header = line;
    } else if (id == "BHS") {
      if (in_batch) {
        return Unexpected(sequenceError("BHS before the previous batch was closed by BTS", id, line_no));
      }
      closeMessage();
      in_batch = true;
      batch_messages = 0;
      if (out.batch_header.empty()) out.batch_header = line;
    } else if (id == "BTS") {
      closeMessage();
      if (!in_batch) out.warnings.push_back("BTS without a BHS" + lineRef(line_no));
      int declared = countField(line);
      if (declared >= 0 && declared != batch_messages)
        out.warnings.push_back("BTS-1 declares " + std::to_string(declared) + " messages but the batch holds " +
                               std::to_string(batch_messages) + lineRef(line_no));
      if (declared >= 0) {  // a sum of sender-declared counts: saturate rather than overflow
        int base = declared_total < 0 ? 0 : declared_total;
        declared_total = declared > INT_MAX - base ? INT_MAX : base + declared;
      }
      in_batch = false;
    } else if (id == "FTS") {
      closeMessage();
      if (!in_file) out.warnings.push_back("FTS without an FHS" + lineRef(line_no));
      if (in_batch) out.warnings.push_back("FTS before the batch was closed by BTS" + lineRef(line_no));
      in_batch = false;
      in_file = false;
    } else {
      if (msg_begin == std::string_view::npos)
        return Unexpected(sequenceError("segment outside any message (no MSH before it)", id, line_no));
      msg_end = next;
    }
  }
  closeMessage();
  if (in_batch) out.warnings.push_back("batch not closed by BTS at the end of the input");
  if (in_file) out.warnings.push_back("file not closed by FTS at the end of the input");
  if (out.messages.empty()) return Unexpected(sequenceError("no MSH segment found", "MSH", line_no));
  out.declared_count = declared_total;
  return out;
}

}  // namespace courier::hl7v2
