// Splitting a file (or any byte run) into HL7 v2 messages.
//
// Accepts FHS/BHS ... BTS/FTS batch files, a bare run of several MSH messages,
// messages separated by blank lines, MLLP framing bytes left in a file, and any
// of the segment terminators \r, \n, \r\n. Sans-I/O: bytes in, views out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"
#include "engine/hl7v2/parse_error.h"

namespace courier::hl7v2 {

struct BatchFile {
  std::vector<std::string_view> messages;  // each from its MSH to the end of its last terminator
  std::string_view file_header;            // FHS segment, empty when absent
  std::string_view batch_header;           // first BHS segment, empty when absent
  int declared_count = -1;                 // BTS-1 when given (sum over batches), else -1
  // Things a careful operator wants to know that do not stop the split: a BTS-1
  // count that disagrees with the messages found, lines that are not segments
  // (comments) skipped between messages, a missing BTS/FTS.
  std::vector<std::string> warnings;
};

// Errors (100, segment sequence): a segment before any MSH; a BHS while a batch
// is open or an FHS while a file is open (a header inside a message); nothing
// that looks like a message at all. A line that is not shaped like a segment
// (three capitals or digits, then a delimiter) ends the message before it and
// is skipped with a warning.
Result<BatchFile, ParseError> splitBatch(std::string_view bytes);

}  // namespace courier::hl7v2
