// bench/convert: HL7 v2 → canonical record → FHIR R4 Bundle JSON.
//
// Target (issue 4): at least 100,000 messages/s per core for a ~1 KB ADT^A01,
// parse included. The input is generated here with made-up values.
//
//   build/bench/bench_convert --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   valgrind --tool=callgrind --toggle-collect='*BM_ConvertFixedCount*' build/bench/bench_convert
//     --benchmark_filter=FixedCount      (one command line; Ir / 10000 = instructions/message)
#include <string>

#include <benchmark/benchmark.h>

#include "engine/hl7v2/message.h"
#include "engine/record/from_hl7v2.h"
#include "engine/record/to_fhir.h"

namespace {

using courier::hl7v2::Message;

std::string adtA01() {
  return "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|COURIER|GOOD HEALTH HOSPITAL|20260301123000+0000||ADT^A01^ADT_A01|"
         "MSG00001|P|2.5.1|||AL|NE||UNICODE UTF-8\r"
         "EVN|A01|20260301123000+0000|||OP001^OPERATOR^ANNA\r"
         "PID|1||PATID1234^^^GOOD HEALTH HOSPITAL^MR~123456789^^^USSSA^SS||EVERYMAN^ADAM^A^III^^^L||19610615|M||"
         "2106-3^White^HL70005|2222 HOME STREET^^GREENSBORO^NC^27401-1020^USA^H||^PRN^PH^^1^555^5552004|"
         "^WPN^PH^^1^555^5551234|EN^English^HL70296|M^Married^HL70002|CHR^Christian^HL70006|"
         "PATID12345001^2^M10^ADT1^AN^A|123456789|987654^NC|||||||||||N\r"
         "NK1|1|EVERYWOMAN^EVE^E^^^^L|SPO^Spouse^HL70063||^PRN^PH^^1^555^5552004||EC^Emergency Contact^HL70131\r"
         "PV1|1|I|2000^2012^01^GOOD HEALTH HOSPITAL^^^^^Ward 2||||004777^ATTEND^AARON^A^^^DR^^^^^^^^^^MD|"
         "005777^REFER^RACHEL^^^^DR|||SUR||||ADM|A0||004777^ATTEND^AARON^A^^^DR|INP|"
         "VISIT0001^^^GOOD HEALTH HOSPITAL^VN|SP||||||||||||||||01||||||||20260301120000+0000\r"
         "PV2|||^Chest pain\r"
         "AL1|1|DA|1545^PENICILLIN^RXNORM|MO|HIVES\r"
         "DG1|1|I10|I21.4^Non-ST elevation (NSTEMI) myocardial infarction^I10|||A\r"
         "DG1|2|I10|E11.9^Type 2 diabetes mellitus without complications^I10|||W\r"
         "PR1|1||02703ZZ^Dilation of coronary artery, one artery, percutaneous^I10P||20260301130000+0000\r"
         "IN1|1|MEDICARE^Medicare Part A|CMS001^^^CMS^NIIP|CENTERS FOR MEDICARE|7500 SECURITY BLVD^^BALTIMORE^MD^21244||"
         "^WPN^PH^^1^800^6334227|GRP100|||||||||EVERYMAN^ADAM^A|SEL^Self^HL70063|19610615|"
         "2222 HOME STREET^^GREENSBORO^NC^27401\r";
}

void BM_ConvertAdtA01ToFhir(benchmark::State& state) {
  const std::string input = adtA01();
  Message msg;
  size_t out_bytes = 0;
  for (auto _ : state) {
    if (!msg.reset(input)) state.SkipWithError("parse failed");
    auto rec = courier::record::fromHl7v2(msg);
    if (!rec) state.SkipWithError("convert failed");
    std::string json = courier::record::toFhirBundle(*rec);
    out_bytes = json.size();
    benchmark::DoNotOptimize(json.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
  state.counters["input_bytes"] = static_cast<double>(input.size());
  state.counters["output_bytes"] = static_cast<double>(out_bytes);
}
BENCHMARK(BM_ConvertAdtA01ToFhir);

// A fixed 10,000 conversions, for counting instructions per message under
// callgrind (`--toggle-collect='*BM_ConvertFixedCount*'`, Ir / 10000).
void BM_ConvertFixedCount(benchmark::State& state) { BM_ConvertAdtA01ToFhir(state); }
BENCHMARK(BM_ConvertFixedCount)->Iterations(10000);

void BM_RecordOnly(benchmark::State& state) {
  const std::string input = adtA01();
  Message msg;
  if (!msg.reset(input)) return;
  for (auto _ : state) {
    auto rec = courier::record::fromHl7v2(msg);
    benchmark::DoNotOptimize(rec);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordOnly);

}  // namespace

BENCHMARK_MAIN();
