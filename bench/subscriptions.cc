// Subscription matching: how long the Matcher takes per event with many active
// subscriptions of mixed filters (patients, ICD-10-CM ranges and lists, HCPCS ranges, LOINC and
// CVX codes, specialties, facilities, patient classes, topic only), with events drawn from a
// hospital-like mix (diagnoses and results most, then encounters, vaccines, procedures, claims).
//
//   build-*/bench/bench_subscriptions
//
// ns_per_event_per_1k_subs = time per event * 1000 / subscriptions; the target is < 10,000 ns.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/subscriptions/matcher.h"

namespace {

using namespace courier::subscriptions;

const std::string kIcd = "http://hl7.org/fhir/sid/icd-10-cm";
const std::string kHcpcs = "urn:oid:2.16.840.1.113883.6.285";
const std::string kLoinc = "http://loinc.org";
const std::string kCvx = "http://hl7.org/fhir/sid/cvx";

const char* kIcdRanges[] = {"C00-D49", "C50-C50", "E08-E13", "I00-I99", "I20-I25", "J40-J47", "F01-F99",
                            "O00-O9A", "A15-A19", "B20", "N17-N19", "G30-G32", "C34-C34", "C18-C21"};
const char* kIcdCodes[] = {"C50.911", "I10", "E11.9", "I21.4", "J45.909", "F32.9", "N18.6", "C34.90", "Z00.00",
                           "E78.5", "I50.9", "J44.1", "C18.7", "B20", "A15.0", "O24.419", "G30.9", "K21.9",
                           "M54.5", "R07.9"};
const char* kHcpcsCodes[] = {"99213", "99214", "36415", "80053", "85025", "71046", "93000", "G0439", "J1885",
                             "97110"};
const char* kLoincCodes[] = {"2345-7", "2160-0", "718-7", "4548-4", "2093-3", "33914-3", "6690-2", "777-3"};
const char* kCvxCodes[] = {"08", "20", "88", "140", "141", "207", "208", "213", "03", "10"};
const char* kSpecialties[] = {"oncology", "cardiology", "endocrinology", "pulmonology", "nephrology",
                              "neurology", "obstetrics", "infectious-disease"};
constexpr int kPatients = 5000;
constexpr int kFacilities = 20;

struct Setup {
  Matcher matcher;
  std::vector<Event> events;
};

std::string facility(int i) { return "FAC" + std::to_string(i); }

Topic pickTopic(std::mt19937& rng, const std::vector<std::pair<Topic, int>>& weights) {
  int total = 0;
  for (const auto& w : weights) total += w.second;
  int x = static_cast<int>(rng() % static_cast<unsigned>(total));
  for (const auto& w : weights) {
    if (x < w.second) return w.first;
    x -= w.second;
  }
  return weights.back().first;
}

std::string codeFilterFor(Topic topic, std::mt19937& rng) {
  auto pick = [&rng](const auto& arr) { return std::string(arr[rng() % std::size(arr)]); };
  switch (topic) {
    case Topic::kObservationResulted: return "code=" + kLoinc + "|" + pick(kLoincCodes) + "," + pick(kLoincCodes);
    case Topic::kImmunization: return "code=" + pick(kCvxCodes);
    case Topic::kProcedure: return "code=" + kHcpcs + "|99201-99215," + pick(kHcpcsCodes);
    case Topic::kClaimProduced:
      return rng() % 2 ? "code=" + kHcpcs + "|J0000-J9999" : "code=" + kIcd + "|" + pick(kIcdRanges);
    default:
      return rng() % 3 ? "code=" + kIcd + "|" + pick(kIcdRanges) : "code=" + pick(kIcdCodes) + "," + pick(kIcdCodes);
  }
}

Setup build(int subscriptions) {
  Setup s;
  std::mt19937 rng(20260115);
  const std::vector<std::pair<Topic, int>> sub_topics = {
      {Topic::kDiagnosis, 40}, {Topic::kEncounterStart, 15}, {Topic::kEncounterEnd, 10},
      {Topic::kObservationResulted, 15}, {Topic::kImmunization, 10}, {Topic::kProcedure, 5},
      {Topic::kClaimProduced, 5}};
  for (int i = 0; i < subscriptions; ++i) {
    Topic topic = pickTopic(rng, sub_topics);
    std::vector<Filter> filters;
    std::string criteria;
    int kind = static_cast<int>(rng() % 100);
    if (kind < 20) criteria = "patient=Patient/MRN" + std::to_string(rng() % kPatients);
    else if (kind < 50) criteria = codeFilterFor(topic, rng);
    else if (kind < 65) criteria = std::string("specialty=") + kSpecialties[rng() % std::size(kSpecialties)];
    else if (kind < 80) criteria = "facility=" + facility(static_cast<int>(rng() % kFacilities));
    else if (kind < 90) criteria = codeFilterFor(topic, rng) + "&patient-class=" + (rng() % 2 ? "I" : "E");
    // else: topic only
    if (!criteria.empty() && !parseFilterCriteria(topic, criteria, "bench", filters).has_value()) {
      std::fprintf(stderr, "bad bench filter %s\n", criteria.c_str());
      std::abort();
    }
    SubscriptionSpec spec;
    spec.id = "sub-" + std::to_string(i);
    spec.topic = topic;
    spec.filters = std::move(filters);
    spec.channel.endpoint = "https://registry.example/notify";
    if (!s.matcher.add(std::move(spec)).has_value()) std::abort();
  }

  const std::vector<std::pair<Topic, int>> event_topics = {
      {Topic::kDiagnosis, 35}, {Topic::kObservationResulted, 30}, {Topic::kEncounterStart, 8},
      {Topic::kEncounterEnd, 7}, {Topic::kImmunization, 10}, {Topic::kProcedure, 5}, {Topic::kClaimProduced, 5}};
  auto icd = [&rng] { return kIcd + "|" + kIcdCodes[rng() % std::size(kIcdCodes)]; };
  for (int i = 0; i < 4096; ++i) {
    Event e;
    e.topic = pickTopic(rng, event_topics);
    e.patient_ref = "Patient/MRN" + std::to_string(rng() % kPatients);
    e.facility = facility(static_cast<int>(rng() % kFacilities));
    e.patient_class = std::string(1, "IOE"[rng() % 3]);
    e.specialties = {kSpecialties[rng() % std::size(kSpecialties)]};
    switch (e.topic) {
      case Topic::kDiagnosis: e.codes = {icd()}; break;
      case Topic::kEncounterStart:
      case Topic::kEncounterEnd: e.codes = {icd(), icd(), icd()}; break;
      case Topic::kObservationResulted: e.codes = {kLoinc + "|" + kLoincCodes[rng() % std::size(kLoincCodes)]}; break;
      case Topic::kImmunization: e.codes = {kCvx + "|" + kCvxCodes[rng() % std::size(kCvxCodes)]}; break;
      case Topic::kProcedure: e.codes = {kHcpcs + "|" + kHcpcsCodes[rng() % std::size(kHcpcsCodes)]}; break;
      case Topic::kClaimProduced:
        e.codes = {icd(), icd(), kHcpcs + "|" + kHcpcsCodes[rng() % std::size(kHcpcsCodes)],
                   kHcpcs + "|" + kHcpcsCodes[rng() % std::size(kHcpcsCodes)]};
        break;
    }
    s.events.push_back(std::move(e));
  }
  return s;
}

void BM_Match(benchmark::State& state) {
  const int subscriptions = static_cast<int>(state.range(0));
  Setup s = build(subscriptions);
  std::vector<std::string_view> out;
  std::size_t i = 0, matched = 0;
  for (auto _ : state) {
    s.matcher.match(s.events[i++ & 4095], out);
    matched += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  double events = static_cast<double>(state.iterations());
  state.counters["matches_per_event"] = static_cast<double>(matched) / events;
  // Seconds per (event x 1,000 subscriptions), printed in ns by --benchmark_counters_tabular.
  state.counters["ns_per_event_per_1k_subs"] =
      benchmark::Counter(events * subscriptions / 1000.0, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Match)->Arg(1000)->Arg(10000);

// add + remove, as the HTTP front door does on POST and DELETE with 1,000 held.
void BM_AddRemove(benchmark::State& state) {
  Setup s = build(1000);
  std::vector<Filter> filters;
  if (!parseFilterCriteria(Topic::kDiagnosis, "code=C00-D49", "bench", filters).has_value()) std::abort();
  for (auto _ : state) {
    SubscriptionSpec spec;
    spec.id = "extra";
    spec.topic = Topic::kDiagnosis;
    spec.filters = filters;
    if (!s.matcher.add(std::move(spec)).has_value()) std::abort();
    s.matcher.remove("extra");
  }
}
BENCHMARK(BM_AddRemove);

}  // namespace

BENCHMARK_MAIN();
