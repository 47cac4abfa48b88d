// The canonical record as JSON, for `courier convert --to record` and tests.
//
// Every value is written as {"value": "...", "source": "PID-3.1"}; empty values
// and empty lists are left out. The shape follows the structs in
// canonical_record.h one to one (snake_case keys).
#pragma once

#include <string>

#include "engine/record/canonical_record.h"

namespace courier::record {

std::string toRecordJson(const CanonicalRecord& rec);

}  // namespace courier::record
