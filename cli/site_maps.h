// The config's record.site_maps loaded into record::SiteMaps: what `courier serve`
// applies to every HL7 v2 message and what `courier check-config` checks, so both read
// the files the same way (every problem of every file at once, file:line:column).
#pragma once

#include <vector>

#include "engine/config/config.h"
#include "engine/record/site_map.h"

namespace courier::cli {

inline Result<record::SiteMaps, record::SiteMapErrors> loadSiteMaps(const config::Config& cfg) {
  std::vector<record::SiteMaps::Source> sources;
  for (const auto& m : cfg.record.site_maps) sources.push_back({m.facility, m.application, m.file});
  return record::SiteMaps::load(sources);
}

}  // namespace courier::cli
