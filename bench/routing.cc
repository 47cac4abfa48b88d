// bench/routing: Router::route() per message, the pipeline's per-message routing cost.
//
// Target (issue 6): well under 1 µs per route for simple rules. Each benchmark routes one
// message through a fixed set of routes; `ns_per_route` divides the time per message by
// the number of routes evaluated. Inputs are made up here.
//
//   build/bench/bench_routing --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include "engine/config/config.h"
#include "engine/hl7v2/message.h"
#include "engine/record/from_hl7v2.h"
#include "engine/routing/router.h"
#include "engine/routing/specialty.h"

namespace {

using courier::coding::AssignedCode;
using courier::coding::CodedRecord;
using courier::coding::CodeSystem;
using courier::coding::CodingResult;
using courier::routing::RouteInput;
using courier::routing::Router;

const std::string kDft =
    "MSH|^~\\&|CHARGES|GOOD HEALTH HOSPITAL^1.2.3^ISO|COURIER|INSURER|20260301123000||DFT^P03^DFT_P03|MSG00001|P|"
    "2.5.1\r"
    "PID|1||PATID1234^^^GOOD HEALTH HOSPITAL^MR||EVERYMAN^ADAM^A||19610615|M\r"
    "PV1|1|O|ONC^201^01^GOOD HEALTH HOSPITAL|||||||ONC||||||||OP|VISIT0001^^^GOOD HEALTH HOSPITAL^VN\r"
    "DG1|1|I10|C50.911^Malignant neoplasm of unspecified site of right female breast^I10|||F\r"
    "DG1|2|I10|E11.9^Type 2 diabetes mellitus without complications^I10|||F\r"
    "FT1|1|||20260301||CG|CHG001^Chemotherapy drug|||1|2500.00||||||||C50.911^^I10||||||J9035^Bevacizumab^HCPCS\r"
    "FT1|2|||20260301||CG|CHG002^Infusion|||1|300.00||||||||C50.911^^I10||||||96413^Chemo infusion^C4\r";

struct Fixture {
  std::string bytes = kDft;
  courier::hl7v2::Message message;
  courier::record::CanonicalRecord record;
  CodedRecord coded;

  Fixture() {
    message = std::move(*courier::hl7v2::Message::parse(bytes));
    record = std::move(*courier::record::fromHl7v2(message));
    auto code = [](const char* c, CodeSystem s) {
      AssignedCode a;
      a.code = c;
      a.system = s;
      return a;
    };
    CodingResult d1, d2, c1, c2;
    d1.codes = {code("C50.911", CodeSystem::kIcd10Cm)};
    d2.codes = {code("E11.9", CodeSystem::kIcd10Cm)};
    c1.codes = {code("J9035", CodeSystem::kHcpcs)};
    c2.codes = {code("96413", CodeSystem::kHcpcs)};
    coded.diagnoses = {d1, d2};
    coded.charges = {c1, c2};
  }
};

Router build(const std::string& routes) {
  const std::string text =
      "data_dir: /tmp\n"
      "listeners: [{name: mllp-main, tls: {enabled: false}}]\n"
      "destinations:\n"
      "  - {name: a, kind: file, directory: a}\n"
      "  - {name: b, kind: file, directory: b}\n"
      "  - {name: c, kind: file, directory: c}\n"
      "routes:\n" +
      routes;
  auto config = courier::config::parseConfig(text, "bench.yaml", [](std::string_view) { return std::nullopt; },
                                             courier::config::LoadOptions{std::nullopt, false});
  if (!config) std::abort();
  auto router = Router::build(*config);
  if (!router) std::abort();
  return std::move(*router);
}

// `n` copies of a route, all evaluated (the last one matches).
std::string repeat(const std::string& route_body, const std::string& last_body, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += "  - name: r" + std::to_string(i) + "\n    match: " + (i + 1 == n ? last_body : route_body) +
           "\n    destinations: [" + std::string(1, static_cast<char>('a' + i % 3)) + "]\n";
  }
  return out;
}

void run(benchmark::State& state, const Router& router, const Fixture& f, int routes) {
  const RouteInput in{f.record, &f.coded, "mllp-main", &f.message};
  std::size_t decisions = 0;
  for (auto _ : state) {
    auto out = router.route(in);
    decisions = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["routes"] = routes;
  state.counters["decisions"] = static_cast<double>(decisions);
  state.counters["ns_per_route"] = benchmark::Counter(static_cast<double>(state.iterations()) * routes,
                                                      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Type, sender, patient class: the common feed-splitting rules; none match but the last.
void BM_RouteSimpleRules(benchmark::State& state) {
  Fixture f;
  const int n = 16;
  Router r = build(repeat("{message_types: [ADT^A01, ADT^A04], sending_facilities: [LAB], patient_classes: [I]}",
                          "{message_types: [DFT^P03, BAR^P01], sending_facilities: [\"GOOD HEALTH HOSPITAL\"]}", n));
  run(state, r, f, n);
}
BENCHMARK(BM_RouteSimpleRules);

// Rules that pass the cheap tests and then look at codes and the coder's outcome.
void BM_RouteCodeRanges(benchmark::State& state) {
  Fixture f;
  const int n = 16;
  Router r = build(repeat("{message_types: DFT, coded: billable, codes: [{icd10cm: I00-I99}, {hcpcs: J0000-J0999}]}",
                          "{message_types: DFT, coded: billable, codes: [{icd10cm: C00-D49}]}", n));
  run(state, r, f, n);
}
BENCHMARK(BM_RouteCodeRanges);

void BM_RouteSpecialties(benchmark::State& state) {
  Fixture f;
  const int n = 16;
  Router r = build(repeat("{specialties: [cardiology, neurology]}", "{specialties: [oncology]}", n));
  run(state, r, f, n);
}
BENCHMARK(BM_RouteSpecialties);

void BM_RouteFieldTests(benchmark::State& state) {
  Fixture f;
  const int n = 16;
  Router r = build(repeat("{fields: [{field: PV1-2, equals: O}, {field: PV1-3.1, in: [ICU, CCU]}]}",
                          "{fields: [{field: PV1-2, equals: O}, {field: PID-8, not: U}]}", n));
  run(state, r, f, n);
}
BENCHMARK(BM_RouteFieldTests);

// A realistic set: the insurer example's two routes plus a catch-all archive.
void BM_RouteInsurerExample(benchmark::State& state) {
  Fixture f;
  Router r = build(
      "  - {name: coded-charges, match: {message_types: [DFT^P03, BAR^P01], has_charges: true, coded: billable},"
      " destinations: [a, b]}\n"
      "  - {name: oncology, match: {codes: [{icd10cm: C00-D49}]}, destinations: [c]}\n"
      "  - {name: archive, destinations: [a]}\n");
  run(state, r, f, 3);
}
BENCHMARK(BM_RouteInsurerExample);

void BM_DeriveSpecialties(benchmark::State& state) {
  Fixture f;
  for (auto _ : state) {
    auto names = courier::routing::deriveSpecialties(f.record, &f.coded);
    benchmark::DoNotOptimize(names.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DeriveSpecialties);

}  // namespace

BENCHMARK_MAIN();
