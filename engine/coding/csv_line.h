// Splitting one CSV record, as the crosswalk files and the flattened index use it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace courier::coding {

// The fields of one CSV line with RFC 4180 quoting ("a, b" and "" for a quote).
// Fields never hold newlines in Courier's files, so a record is one line.
std::vector<std::string> splitCsvLine(std::string_view line);

}  // namespace courier::coding
