// bench_coding: code checks per second and text assignments per second.
//
//   build-coding/bench/bench_coding [--benchmark_filter=...]
// Reads mappings/ from COURIER_MAPPINGS_DIR or the source tree.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/coding/code_checker.h"
#include "engine/coding/code_sets.h"
#include "engine/coding/mappings_dir.h"
#include "engine/coding/text_coder.h"

namespace {

using namespace courier::coding;

const CodeSets& sets() {
  static std::unique_ptr<CodeSets> s = [] {
    auto r = CodeSets::load(defaultMappingsDir() + "/codesets");
    if (!r) {
      std::fprintf(stderr, "load failed: %s\n", r.error().toString().c_str());
      std::exit(1);
    }
    return std::move(*r);
  }();
  return *s;
}

// A realistic mix: valid leaves in several spellings, headers, 7th-character
// codes, unknown codes and HCPCS.
const std::vector<std::string>& checkInputs() {
  static std::vector<std::string> v = {
      "E119",    "e11.9",  "E11.9 ", "I10",     "J189",    "S52501A", "S52.501", "N1831",
      "Z0000",   "E11",    "R05.9",  "F17.210", "M1711",   "I4891",   "Q999",    "S0990A",
      "C50.411", "K219",   "U071",   "G40909",  "I82.402", "Z23",     "A41.9",   "E785"};
  return v;
}

void BM_CheckIcd10cm(benchmark::State& state) {
  const CodeSets& s = sets();
  CodeChecker checker(s);
  ServiceDate dos{2026, 3, 1};
  const auto& in = checkInputs();
  size_t i = 0;
  for (auto _ : state) {
    CheckResult r = checker.check(CodeSystem::kIcd10Cm, in[i], dos);
    benchmark::DoNotOptimize(r);
    if (++i == in.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckIcd10cm);

void BM_CheckHcpcs(benchmark::State& state) {
  const CodeSets& s = sets();
  CodeChecker checker(s);
  ServiceDate dos{2025, 11, 15};
  std::vector<std::string> in = {"G0008", "j1100", "A0428", "E0114", "XXXXX", "L3000", "99213", "25"};
  size_t i = 0;
  for (auto _ : state) {
    CheckResult r = checker.check(CodeSystem::kHcpcs, in[i], dos);
    benchmark::DoNotOptimize(r);
    if (++i == in.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckHcpcs);

const TextCoder& coder() {
  static std::unique_ptr<TextCoder> c = [] {
    auto r = TextCoder::build(sets(), defaultMappingsDir());
    if (!r) {
      std::fprintf(stderr, "coder build failed: %s\n", r.error().toString().c_str());
      std::exit(1);
    }
    return std::move(*r);
  }();
  return *c;
}

// Phrases of the held-out set (tests/data/coding/holdout.tsv), all distinct:
// nothing is cached between calls.
const std::vector<std::string>& phrases() {
  static std::vector<std::string> v = [] {
    std::vector<std::string> out;
    std::ifstream in(defaultMappingsDir() + "/../tests/data/coding/holdout.tsv");
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(line.substr(0, line.find('\t')));
    }
    if (out.empty()) out = {"Type 2 DM with diabetic CKD stage 3a", "HTN", "Osteoarthritis of right knee"};
    return out;
  }();
  return v;
}

void BM_TextAssign(benchmark::State& state) {
  const TextCoder& c = coder();
  const auto& in = phrases();
  TextCodingOptions opt;
  opt.date = ServiceDate{2026, 3, 1};
  size_t i = 0;
  for (auto _ : state) {
    CodingResult r = c.code(in[i], opt);
    benchmark::DoNotOptimize(r);
    if (++i == in.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TextAssign);

void BM_LoadAll(benchmark::State& state) {
  for (auto _ : state) {
    auto r = CodeSets::load(defaultMappingsDir() + "/codesets");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LoadAll)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_BuildTextCoder(benchmark::State& state) {
  for (auto _ : state) {
    auto r = TextCoder::build(sets(), defaultMappingsDir());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_BuildTextCoder)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
