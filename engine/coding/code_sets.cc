#include "engine/coding/code_sets.h"

#include <thread>

#include "engine/coding/gzip_file.h"

namespace courier::coding {

namespace {

struct Spec {
  ReleaseInfo info;
  bool hcpcs = false;
};

Result<CodeSet> loadOne(const std::string& dir, const Spec& spec) {
  auto text = readCompressedFile(dir + "/" + spec.info.source_file);
  if (!text) return Unexpected(text.error());
  return spec.hcpcs ? CodeSet::loadHcpcsTsv(spec.info, *text)
                    : CodeSet::loadOrderTsv(spec.info, *text);
}

}  // namespace

Result<std::unique_ptr<CodeSets>> CodeSets::load(const std::string& dir) {
  std::vector<Spec> specs = {
      {{CodeSystem::kIcd10Cm, "ICD-10-CM FY2025", 2025, true, "icd10cm_2025.tsv.gz"}},
      {{CodeSystem::kIcd10Cm, "ICD-10-CM FY2026", 2026, true, "icd10cm_2026.tsv.gz"}},
      {{CodeSystem::kIcd10Cm, "ICD-10-CM FY2027 (rebuilt from FY2026 + published changes; not official)",
        2027, false, "icd10cm_2027_reconstructed.tsv.gz"}},
      {{CodeSystem::kIcd10Pcs, "ICD-10-PCS FY2026", 2026, true, "icd10pcs_2026.tsv.gz"}},
      {{CodeSystem::kHcpcs, "HCPCS Level II 2025 October quarterly", 0, true, "hcpcs_2025_oct.tsv.gz"},
       true},
  };
  // Inflate and parse in parallel: two workers, each taking every other file.
  std::vector<std::optional<Result<CodeSet>>> results(specs.size());
  auto work = [&](size_t start) {
    for (size_t i = start; i < specs.size(); i += 2) results[i].emplace(loadOne(dir, specs[i]));
  };
  std::thread helper(work, 1);
  work(0);
  helper.join();

  auto sets = std::make_unique<CodeSets>();
  for (size_t i = 0; i < specs.size(); ++i) {
    Result<CodeSet>& r = *results[i];
    if (!r) return Unexpected(r.error());
    auto set = std::make_unique<CodeSet>(std::move(*r));
    switch (specs[i].info.system) {
      case CodeSystem::kIcd10Cm:
        if (set->release().official) sets->latest_official_ = sets->icd10cm_.size();
        sets->icd10cm_.push_back(std::move(set));
        break;
      case CodeSystem::kIcd10Pcs: sets->icd10pcs_ = std::move(set); break;
      case CodeSystem::kHcpcs: sets->hcpcs_ = std::move(set); break;
      case CodeSystem::kIcd9Cm: break;
    }
  }
  return sets;
}

const CodeSet* CodeSets::icd10cmFiscalYear(int fiscal_year) const {
  for (const auto& s : icd10cm_) {
    if (s->release().fiscal_year == fiscal_year) return s.get();
  }
  return nullptr;
}

Result<const CodeSet*> CodeSets::releaseFor(CodeSystem system,
                                            std::optional<ServiceDate> date) const {
  switch (system) {
    case CodeSystem::kIcd10Cm: {
      if (!date) return &latestOfficialIcd10cm();
      int fy = fiscalYear(*date);
      if (const CodeSet* s = icd10cmFiscalYear(fy)) return s;
      return Unexpected(Error(ErrorCode::kNotFound,
                              "no ICD-10-CM release loaded for fiscal year " + std::to_string(fy),
                              "date"));
    }
    case CodeSystem::kIcd10Pcs: return icd10pcs_.get();
    case CodeSystem::kHcpcs: return hcpcs_.get();
    case CodeSystem::kIcd9Cm: break;
  }
  return Unexpected(Error(ErrorCode::kUnsupported, "no code set is loaded for this system", "system"));
}

size_t CodeSets::memoryBytes() const {
  size_t n = icd10pcs_->memoryBytes() + hcpcs_->memoryBytes();
  for (const auto& s : icd10cm_) n += s->memoryBytes();
  return n;
}

}  // namespace courier::coding
