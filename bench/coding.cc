// bench_coding: code checks per second, text assignments per second, and whole records
// (RecordCoder) per second.
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
#include "engine/coding/record_coder.h"
#include "engine/coding/text_coder.h"
#include "engine/hl7v2/message.h"
#include "engine/record/from_hl7v2.h"

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

const RecordCoder& recordCoder() {
  static std::unique_ptr<RecordCoder> c = [] {
    auto r = RecordCoder::load(defaultMappingsDir());
    if (!r) {
      std::fprintf(stderr, "record coder load failed: %s\n", r.error().toString().c_str());
      std::exit(1);
    }
    return std::move(*r);
  }();
  return *c;
}

// A typical DFT^P03: three sent ICD-10-CM diagnoses (one undotted) and two HCPCS
// charges, one with modifiers. The record is converted once; only code() is timed.
void BM_CodeRecord(benchmark::State& state) {
  static const std::string hl7 =
      "MSH|^~\\&|BILLING|FAC|COURIER|FAC|20260302101500||DFT^P03|CTL1|P|2.5.1\r"
      "PID|1||TEST0001^^^FAC^MR||TESTPATIENT^ALPHA||19700101|F\r"
      "PV1|1|O|CLINIC^1^A||||9^DOC^D|||MED|||||||||V1\r"
      "DG1|1||E11.9^Type 2 diabetes mellitus without complications^I10|||F\r"
      "DG1|2||I10^Essential (primary) hypertension^I10|||F\r"
      "DG1|3||E785^Hyperlipidemia^I10|||F\r"
      "FT1|1|||20260301||CG|CDM1001^Flu shot^CDM|||1|25.00||||||||E11.9^^I10||||||G0008^Flu admin^HCPCS\r"
      "FT1|2|||20260301||CG|CDM2002^Orthosis^CDM|||1|180.00||||||||I10^^I10||||||L3908^Orthosis^HCPCS|RT~59\r";
  auto msg = courier::hl7v2::Message::parse(hl7);
  if (!msg) std::exit(1);
  auto rec = courier::record::fromHl7v2(*msg);
  if (!rec || rec->diagnoses.size() != 3 || rec->charges.size() != 2) std::exit(1);
  const RecordCoder& c = recordCoder();
  if (!c.code(*rec).allBillable()) {
    std::fprintf(stderr, "BM_CodeRecord: the sample record is not billable\n");
    std::exit(1);
  }
  for (auto _ : state) {
    CodedRecord r = c.code(*rec);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CodeRecord);

void BM_LoadRecordCoder(benchmark::State& state) {
  for (auto _ : state) {
    auto r = RecordCoder::load(defaultMappingsDir());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LoadRecordCoder)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
