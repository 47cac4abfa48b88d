// Shared fixture: the real code sets from mappings/, loaded once per test binary.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "engine/coding/code_sets.h"

namespace courier::coding::testing {

inline std::string mappingsDir() { return std::string(COURIER_SOURCE_DIR) + "/mappings"; }
inline std::string dataDir() { return std::string(COURIER_SOURCE_DIR) + "/tests/data/coding"; }

inline const CodeSets& codeSets() {
  static std::unique_ptr<CodeSets> sets = [] {
    auto r = CodeSets::load(mappingsDir() + "/codesets");
    if (!r) {
      ADD_FAILURE() << r.error().toString();
      std::abort();
    }
    return std::move(*r);
  }();
  return *sets;
}

}  // namespace courier::coding::testing
