// bench/hl7v2_parse: HL7 v2 indexing and field reads.
//
// Targets (issue 2): index-only parsing of a ~1 KB ADT^A01 at >= 1 GB/s per core,
// and >= 1 million messages/s with five field reads. Inputs are generated here
// with made-up values, so the benchmark needs no files.
//
// BM_AckBuild: the commit ACK of an accepted message (the MLLP listener's I/O threads
// render one per frame).
//
//   build/bench/hl7v2_parse --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <string>

#include <benchmark/benchmark.h>

#include "engine/hl7v2/ack_builder.h"
#include "engine/hl7v2/header.h"
#include "engine/hl7v2/message.h"

namespace {

using courier::hl7v2::Message;
using courier::hl7v2::Path;

std::string adtA01() {
  std::string m =
      "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|COURIER|GOOD HEALTH HOSPITAL|20260301123000+0000||ADT^A01^ADT_A01|"
      "MSG00001|P|2.5.1|||AL|NE||UNICODE UTF-8\r"
      "EVN|A01|20260301123000|||OP001^OPERATOR^ANNA\r"
      "PID|1||PATID1234^^^GOOD HEALTH HOSPITAL^MR~123456789^^^USSSA^SS||EVERYMAN^ADAM^A^III^^^L||19610615|M||"
      "2106-3^White^HL70005|2222 HOME STREET^^GREENSBORO^NC^27401-1020^USA^H||^PRN^PH^^1^555^5552004|"
      "^WPN^PH^^1^555^5551234|EN^English^HL70296|M^Married^HL70002|CHR^Christian^HL70006|PATID12345001^2^M10^ADT1^AN^A|"
      "123456789|987654^NC|||||||||||N\r"
      "NK1|1|EVERYWOMAN^EVE^E^^^^L|SPO^Spouse^HL70063||^PRN^PH^^1^555^5552004||EC^Emergency Contact^HL70131\r"
      "PV1|1|I|2000^2012^01^GOOD HEALTH HOSPITAL^^^^^Ward 2||||004777^ATTEND^AARON^A^^^DR^^^^^^^^^^MD|"
      "005777^REFER^RACHEL^^^^DR|||SUR||||ADM|A0||004777^ATTEND^AARON^A^^^DR|INP|VISIT0001^^^GOOD HEALTH HOSPITAL^VN|"
      "SP||||||||||||||||01||||||||20260301120000\r"
      "PV2|||^Chest pain\r"
      "AL1|1|DA|1545^PENICILLIN^RXNORM|MO|HIVES\r"
      "DG1|1|I10|I21.4^Non-ST elevation (NSTEMI) myocardial infarction^I10|||A\r"
      "DG1|2|I10|E11.9^Type 2 diabetes mellitus without complications^I10|||S\r"
      "PR1|1||02703ZZ^Dilation of coronary artery, one artery, percutaneous^ICD10PCS||20260301130000\r"
      "IN1|1|MEDICARE^Medicare Part A|CMS001^^^CMS^NIIP|CENTERS FOR MEDICARE|7500 SECURITY BLVD^^BALTIMORE^MD^21244||"
      "^WPN^PH^^1^800^6334227|GRP100|||||||||EVERYMAN^ADAM^A|SEL^Self^HL70063|19610615|2222 HOME STREET^^GREENSBORO^NC^27401\r";
  return m;
}

std::string oru32K() {
  std::string m =
      "MSH|^~\\&|LAB|GOOD HEALTH HOSPITAL|COURIER|GOOD HEALTH HOSPITAL|20260301123000+0000||ORU^R01^ORU_R01|"
      "LAB00001|P|2.5.1|||AL|NE\r"
      "PID|1||PATID1234^^^GOOD HEALTH HOSPITAL^MR||EVERYMAN^ADAM^A^III||19610615|M\r"
      "OBR|1|ORD0001|FIL0001|18748-4^Diagnostic imaging study^LN|||20260301110000\r"
      "OBX|1|ED|18748-4^Diagnostic imaging study^LN||^application^pdf^Base64^";
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned x = 12345;
  while (m.size() < 32 * 1024 - 40) {
    x = x * 1103515245u + 12345u;
    m.push_back(kAlphabet[(x >> 16) & 63]);
  }
  m += "||||||F\r";
  return m;
}

const Path& path(int i) {
  static const Path paths[] = {*Path::parse("MSH-10"), *Path::parse("PID-3.1"), *Path::parse("PID-5.1"),
                               *Path::parse("PV1-2"), *Path::parse("OBX-5.5")};
  return paths[i];
}

void indexOnly(benchmark::State& state, const std::string& bytes) {
  Message msg;
  for (auto _ : state) {
    auto r = msg.reset(bytes);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(msg.segmentCount());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes.size()));
  state.SetItemsProcessed(state.iterations());
}

void freshParse(benchmark::State& state, const std::string& bytes) {
  for (auto _ : state) {
    auto msg = Message::parse(bytes);
    benchmark::DoNotOptimize(msg);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes.size()));
  state.SetItemsProcessed(state.iterations());
}

void parseAndRead5(benchmark::State& state, const std::string& bytes) {
  Message msg;
  size_t total = 0;
  for (auto _ : state) {
    auto r = msg.reset(bytes);
    benchmark::DoNotOptimize(r);
    for (int i = 0; i < 5; ++i) {
      std::string v = msg.get(path(i));
      total += v.size();
    }
  }
  benchmark::DoNotOptimize(total);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes.size()));
  state.SetItemsProcessed(state.iterations());
}

void BM_Adt1K_IndexOnly(benchmark::State& s) { static const std::string m = adtA01(); indexOnly(s, m); }
void BM_Adt1K_IndexOnlyFreshMessage(benchmark::State& s) { static const std::string m = adtA01(); freshParse(s, m); }
void BM_Adt1K_ParseRead5(benchmark::State& s) { static const std::string m = adtA01(); parseAndRead5(s, m); }
void BM_Oru32K_IndexOnly(benchmark::State& s) { static const std::string m = oru32K(); indexOnly(s, m); }
void BM_Oru32K_ParseRead5(benchmark::State& s) { static const std::string m = oru32K(); parseAndRead5(s, m); }

// The commit ACK every accepted message gets (MSH + MSA), from its parsed header.
void BM_AckBuild(benchmark::State& state) {
  static const std::string m = adtA01();
  auto msg = Message::parse(m);
  if (!msg) {
    state.SkipWithError("the ADT^A01 did not parse");
    return;
  }
  const auto header = courier::hl7v2::MessageHeader::fromMessage(*msg);
  const courier::hl7v2::AckBuilder builder("COURIER");
  for (auto _ : state) {
    auto ack = builder.build(header, courier::hl7v2::AckOutcome::kAccept);
    benchmark::DoNotOptimize(ack);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Adt1K_IndexOnly);
BENCHMARK(BM_Adt1K_IndexOnlyFreshMessage);
BENCHMARK(BM_Adt1K_ParseRead5);
BENCHMARK(BM_Oru32K_IndexOnly);
BENCHMARK(BM_Oru32K_ParseRead5);
BENCHMARK(BM_AckBuild);

}  // namespace

BENCHMARK_MAIN();
