// AlphabeticIndex: the ICD-10-CM Index to Diseases and Injuries as a tree of
// main terms and sub-terms, with codes, manifestation codes, "see" references
// and nonessential modifiers.
//
// Two sources are merged: the FY2025 index (flattened by a third party; newer
// codes, but some main terms such as Hypertension are missing) and the complete
// FY2017 index (older codes, which the coder re-checks against the release in
// force). Nodes are stored in document (pre-)order. Immutable after load.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/coding/lexicon.h"
#include "engine/core/result.h"

namespace courier::coding {

struct IndexNode {
  std::string title;   // as printed, e.g. "atrial or auricular"
  std::string nemod;   // nonessential modifiers, e.g. "(established)"
  std::string code;    // as printed: "I48.91", "M17.1-", "" (none)
  std::string manif;   // manifestation code printed in brackets, e.g. "F02.80"
  std::string see;     // "Calculus, gallbladder", "condition", ""
  uint32_t parent = kNone;
  uint32_t end = 0;    // one past the last node of this subtree
  uint8_t level = 0;   // 0 = main term
  uint8_t source = 0;  // fiscal year of the index minus 2000 (25 or 17)

  static constexpr uint32_t kNone = 0xFFFFFFFFu;
};

class AlphabeticIndex {
 public:
  // `flattened_2025_csv` and `index_2017_tsv` are paths under mappings/codesets.
  static Result<AlphabeticIndex> load(const std::string& flattened_2025_csv,
                                      const std::string& index_2017_tsv);

  const std::vector<IndexNode>& nodes() const { return nodes_; }

  // Follows a "see" reference ("Disease, heart, ischemic, atherosclerotic") to
  // the deepest node it names; kNone when even the main term is unknown.
  uint32_t resolveSee(std::string_view see) const;

  // Manifestation code that the FY2017 index prints for the same path as node
  // `id` (the FY2025 flattening dropped them), or "".
  std::string_view manifFor(uint32_t id) const;
  // The node whose `manif` manifFor(id) returns (`id` itself or an FY2017
  // node), or kNone.
  uint32_t manifNodeFor(uint32_t id) const;

  // Titles from the main term down to node `id`, joined with '|', lower case.
  std::string pathKey(uint32_t id) const;
  // Appends pathKey(id) to `out` with every '|' (between titles or inside one)
  // written as `separator`.
  void appendPathKey(uint32_t id, char separator, std::string& out) const;

 private:
  void finish();

  std::vector<IndexNode> nodes_;
  StringMap<std::vector<uint32_t>> main_terms_;  // first word group of the title, lower case
  // FNV-1a of each node's pathKey() (the same bytes, no string built), so that
  // manifFor(), on the text coder's hot path, hashes nothing and allocates nothing.
  std::vector<uint64_t> path_hash_;
  // Path hash -> FY2017 nodes that print a manifestation code, in node order
  // (the last one with an equal path wins; equality is checked on the paths).
  std::unordered_map<uint64_t, std::vector<uint32_t>> manif_nodes_;
};

}  // namespace courier::coding
