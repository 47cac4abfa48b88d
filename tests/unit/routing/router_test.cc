#include "engine/routing/router.h"

#include <gtest/gtest.h>

#include "engine/config/config.h"
#include "tests/unit/routing/fixtures.h"

namespace courier::routing {
namespace {

namespace fs = std::filesystem;
using testing::assigned;
using testing::hl7;
using testing::parse;
using testing::Parsed;
using testing::result;
using testing::seg;
using Decisions = std::vector<RouteDecision>;

std::string all(const config::ConfigErrors& errors) {
  std::string out;
  for (const auto& e : errors) out += e.toString() + "\n";
  return out;
}

// A config with file destinations a, b and c, one listener `mllp-main` and `routes`.
config::Config configWith(const std::string& routes) {
  const std::string text =
      "data_dir: /tmp\n"
      "listeners:\n"
      "  - {name: mllp-main, tls: {enabled: false}}\n"
      "  - {name: mllp-lab, port: 2576, tls: {enabled: false}}\n"
      "destinations:\n"
      "  - {name: a, kind: file, directory: a}\n"
      "  - {name: b, kind: file, directory: b}\n"
      "  - {name: c, kind: file, directory: c}\n"
      "routes:\n" +
      routes;
  auto loaded = config::parseConfig(text, "t.yaml", [](std::string_view) { return std::nullopt; },
                                    config::LoadOptions{std::nullopt, false});
  EXPECT_TRUE(loaded.has_value()) << (loaded ? "" : all(loaded.error()));
  return loaded ? std::move(*loaded) : config::Config{};
}

Router routerWith(const std::string& routes) {
  auto r = Router::build(configWith(routes));
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().toString());
  return r ? std::move(*r) : Router{};
}

std::string msh(std::string_view type, std::string_view facility = "HOSP^1.2.3^ISO", std::string_view app = "EPIC") {
  return seg("MSH", {{1, "^~\\&"}, {2, app}, {3, facility}, {4, "REG"}, {5, "REG"}, {6, "20260301120000"},
                     {8, type}, {9, "MSG0001"}, {10, "P"}, {11, "2.5.1"}});
}
// Note: seg() numbers fields after the segment id, so for MSH field n is MSH-(n+1).

const std::string kPid = "PID|1||MRN001^^^HOSP^MR||TEST^PATIENT||19700101|F";

std::unique_ptr<Parsed> adt(std::string_view type = "ADT^A01", std::string_view patient_class = "I",
                            std::string_view service = "MED") {
  return parse(hl7({msh(type), kPid, seg("PV1", {{1, "1"}, {2, patient_class}, {3, "ICU^101^A"}, {10, service}})}));
}

// A charge message: an oncology diagnosis and a chemotherapy drug charge.
std::unique_ptr<Parsed> dft() {
  return parse(hl7({msh("DFT^P03"), kPid, seg("PV1", {{1, "1"}, {2, "O"}, {10, "ONC"}}),
                    seg("DG1", {{1, "1"}, {2, "I10"}, {3, "C50.911^Breast cancer^I10"}}),
                    seg("FT1", {{1, "1"}, {4, "20260301"}, {6, "CG"}, {7, "CHG001^Chemo drug"}, {10, "1"},
                                {11, "100.00"}, {25, "J9035^Bevacizumab^HCPCS"}})}));
}

Decisions route(const Router& router, const Parsed& p, const coding::CodedRecord* coded = nullptr,
                std::string_view listener = "mllp-main", bool with_message = true) {
  return router.route(RouteInput{p.record, coded, listener, with_message ? &p.message : nullptr});
}

TEST(RoutingTest, MessageTypesWithAndWithoutTrigger) {
  Router r = routerWith(
      "  - {name: any-adt, match: {message_types: ADT}, destinations: [a]}\n"
      "  - {name: charges, match: {message_types: [DFT^P03, BAR^P01]}, destinations: [b]}\n");
  EXPECT_EQ(route(r, *adt("ADT^A08")), (Decisions{{"a", "any-adt"}}));
  EXPECT_EQ(route(r, *dft()), (Decisions{{"b", "charges"}}));
  EXPECT_TRUE(route(r, *adt("ORU^R01")).empty());  // no route: empty, not an error
  EXPECT_TRUE(route(r, *adt("DFT^P11")).empty());
}

TEST(RoutingTest, EachDestinationOnceAttributedToTheFirstRoute) {
  Router r = routerWith(
      "  - {name: first, match: {message_types: ADT}, destinations: [b, a]}\n"
      "  - {name: never, match: {message_types: ORU}, destinations: [c]}\n"
      "  - {name: everything, destinations: [a, c, b]}\n");
  EXPECT_EQ(route(r, *adt()), (Decisions{{"b", "first"}, {"a", "first"}, {"c", "everything"}}));
  EXPECT_EQ(route(r, *dft()), (Decisions{{"a", "everything"}, {"c", "everything"}, {"b", "everything"}}));
  EXPECT_EQ(r.routeCount(), 3u);
  Router none = routerWith("  []\n");
  EXPECT_TRUE(route(none, *adt()).empty());
}

TEST(RoutingTest, SendersByNamespaceIdOrWholeValue) {
  Router r = routerWith(
      "  - {name: ns, match: {sending_facilities: [OTHER, HOSP]}, destinations: [a]}\n"
      "  - {name: full, match: {sending_facilities: \"HOSP^1.2.3^ISO\"}, destinations: [b]}\n"
      "  - {name: wrong-oid, match: {sending_facilities: \"HOSP^9.9.9^ISO\"}, destinations: [c]}\n");
  auto p = adt();
  EXPECT_EQ(route(r, *p), (Decisions{{"a", "ns"}, {"b", "full"}}));
  // Without a message (FHIR input) only the namespace id is known.
  EXPECT_EQ(route(r, *p, nullptr, "mllp-main", false), (Decisions{{"a", "ns"}, {"b", "full"}, {"c", "wrong-oid"}}));

  Router apps = routerWith(
      "  - {name: epic, match: {sending_applications: EPIC}, destinations: [a]}\n"
      "  - {name: lab, match: {sending_applications: LAB}, destinations: [b]}\n");
  EXPECT_EQ(route(apps, *p), (Decisions{{"a", "epic"}}));
}

TEST(RoutingTest, ListenerPatientClassAndService) {
  Router r = routerWith(
      "  - {name: lab-only, match: {listeners: mllp-lab}, destinations: [a]}\n"
      "  - {name: inpatients, match: {patient_classes: [I, E]}, destinations: [b]}\n"
      "  - {name: cardiac, match: {hospital_services: CAR}, destinations: [c]}\n");
  EXPECT_EQ(route(r, *adt("ADT^A01", "I", "MED")), (Decisions{{"b", "inpatients"}}));
  EXPECT_EQ(route(r, *adt("ADT^A01", "O", "CAR"), nullptr, "mllp-lab"),
            (Decisions{{"a", "lab-only"}, {"c", "cardiac"}}));
  EXPECT_TRUE(route(r, *adt("ADT^A01", "O", "MED")).empty());
}

TEST(RoutingTest, PresenceOfDiagnosesProceduresCharges) {
  Router r = routerWith(
      "  - {name: dx, match: {has_diagnoses: true}, destinations: [a]}\n"
      "  - {name: no-charges, match: {has_charges: false}, destinations: [b]}\n"
      "  - {name: px, match: {has_procedures: true}, destinations: [c]}\n");
  EXPECT_EQ(route(r, *dft()), (Decisions{{"a", "dx"}}));
  EXPECT_EQ(route(r, *adt()), (Decisions{{"b", "no-charges"}}));
}

TEST(RoutingTest, CoderOutcome) {
  Router r = routerWith(
      "  - {name: billable, match: {coded: billable}, destinations: [a]}\n"
      "  - {name: review, match: {coded: review}, destinations: [b]}\n"
      "  - {name: any, match: {coded: any}, destinations: [c]}\n");
  auto p = dft();
  coding::CodedRecord ok;
  ok.diagnoses.push_back(result({assigned("C50.911")}));
  ok.charges.push_back(result({assigned("J9035", coding::CodeSystem::kHcpcs)}));
  EXPECT_EQ(route(r, *p, &ok), (Decisions{{"a", "billable"}, {"c", "any"}}));

  coding::CodedRecord held = ok;
  held.charges[0].review = true;
  EXPECT_EQ(route(r, *p, &held), (Decisions{{"b", "review"}, {"c", "any"}}));

  coding::CodedRecord uncoded_item = ok;
  uncoded_item.diagnoses.push_back(result({}));  // nothing assigned, not under review
  EXPECT_EQ(route(r, *p, &uncoded_item), (Decisions{{"c", "any"}}));

  coding::CodedRecord empty;  // nothing to code is nothing to bill
  EXPECT_EQ(route(r, *p, &empty), (Decisions{{"c", "any"}}));
  EXPECT_EQ(route(r, *p, nullptr), (Decisions{{"c", "any"}}));
}

TEST(RoutingTest, CodeRangesOnAssignedCodes) {
  Router r = routerWith(
      "  - {name: oncology, match: {codes: [{icd10cm: C00-D49}]}, destinations: [a]}\n"
      "  - {name: chemo-drugs, match: {codes: {hcpcs: J9000-J9999}}, destinations: [b]}\n"
      "  - {name: pcs, match: {codes: [{icd10pcs: 0DT}]}, destinations: [c]}\n");
  auto p = adt();  // no codes sent at all
  coding::CodedRecord coded;
  coded.diagnoses.push_back(result({assigned("E11.9"), assigned("d49.9")}));
  coded.procedures.push_back(result({assigned("0DTJ4ZZ", coding::CodeSystem::kIcd10Pcs)}));
  EXPECT_EQ(route(r, *p, &coded), (Decisions{{"a", "oncology"}, {"c", "pcs"}}));
  // Same code, other system: no match.
  coding::CodedRecord wrong_system;
  wrong_system.charges.push_back(result({assigned("J9035", coding::CodeSystem::kIcd10Cm)}));
  EXPECT_TRUE(route(r, *p, &wrong_system).empty());
  // Many codes: past the inline buffer.
  coding::CodedRecord many;
  for (int i = 0; i < 40; ++i) many.diagnoses.push_back(result({assigned("E11.9")}));
  many.charges.push_back(result({assigned("J9035", coding::CodeSystem::kHcpcs)}));
  EXPECT_EQ(route(r, *p, &many), (Decisions{{"b", "chemo-drugs"}}));
}

TEST(RoutingTest, CodeRangesOnSentCodesWhenNotCoded) {
  Router r = routerWith(
      "  - {name: oncology, match: {codes: [{icd10cm: C00-D49}]}, destinations: [a]}\n"
      "  - {name: chemo-drugs, match: {codes: [{hcpcs: J9000-J9999}]}, destinations: [b]}\n");
  EXPECT_EQ(route(r, *dft()), (Decisions{{"a", "oncology"}, {"b", "chemo-drugs"}}));
  // ICD-9 codes as sent never fall in an ICD-10-CM range.
  auto icd9 = parse(hl7({msh("ADT^A01"), kPid, seg("DG1", {{1, "1"}, {3, "174.9^Breast cancer^I9C"}})}));
  EXPECT_TRUE(route(r, *icd9).empty());
  // Once coded, the assigned codes decide.
  coding::CodedRecord coded;
  coded.diagnoses.push_back(result({assigned("N18.6")}));
  EXPECT_TRUE(route(r, *dft(), &coded).empty());
}

TEST(RoutingTest, Specialties) {
  Router r = routerWith(
      "  - {name: heart, match: {specialties: [cardiology]}, destinations: [a]}\n"
      "  - {name: cancer, match: {specialties: [oncology, hematology]}, destinations: [b]}\n");
  EXPECT_EQ(route(r, *dft()), (Decisions{{"b", "cancer"}}));  // PV1-10 ONC and C50.911
  EXPECT_EQ(route(r, *adt("ADT^A01", "I", "CAR")), (Decisions{{"a", "heart"}}));
  EXPECT_TRUE(route(r, *adt("ADT^A01", "I", "MED")).empty());
  coding::CodedRecord coded;
  coded.diagnoses.push_back(result({assigned("I21.4")}));
  EXPECT_EQ(route(r, *adt("ADT^A01", "I", "MED"), &coded), (Decisions{{"a", "heart"}}));
}

TEST(RoutingTest, FieldTests) {
  Router r = routerWith(
      "  - name: icu\n"
      "    match: {fields: [{field: PV1-2, equals: I}, {field: PV1-3.1, in: [ICU, CCU]}]}\n"
      "    destinations: [a]\n"
      "  - name: not-unknown-sex\n"
      "    match: {fields: [{field: PID-8, not: U}, {field: ZPI-1, exists: false}, {field: MSH-3, prefix: EP}]}\n"
      "    destinations: [b]\n"
      "  - name: has-vip\n"
      "    match: {fields: [{field: ZPI-1, exists: true}]}\n"
      "    destinations: [c]\n");
  auto p = adt("ADT^A01", "I");
  EXPECT_EQ(route(r, *p), (Decisions{{"a", "icu"}, {"b", "not-unknown-sex"}}));
  // Without a message, field tests do not match.
  EXPECT_TRUE(route(r, *p, nullptr, "mllp-main", false).empty());

  auto outpatient = adt("ADT^A01", "O");
  EXPECT_EQ(route(r, *outpatient), (Decisions{{"b", "not-unknown-sex"}}));

  // `not` holds for an absent field; a Z segment present turns `exists` on.
  auto z = parse(hl7({msh("ADT^A01"), "PID|1||MRN001^^^HOSP^MR||TEST^PATIENT", "PV1|1|E", "ZPI|VIP"}));
  EXPECT_EQ(route(r, *z), (Decisions{{"c", "has-vip"}}));

  Router escaped = routerWith(
      "  - {name: amp, match: {fields: [{field: PV1-3.1, equals: \"A&B\"}]}, destinations: [a]}\n"
      "  - {name: rep, match: {fields: [{field: \"PID-3[2].1\", equals: ALT9}]}, destinations: [b]}\n");
  auto e = parse(hl7({msh("ADT^A01"), "PID|1||MRN001^^^HOSP^MR~ALT9^^^OTHER^PI||TEST^PATIENT",
                      "PV1|1|I|A\\T\\B^1^1"}));
  EXPECT_EQ(route(escaped, *e), (Decisions{{"a", "amp"}, {"b", "rep"}}));
}

TEST(RoutingTest, AllConditionsMustHold) {
  Router r = routerWith(
      "  - name: coded-oncology-charges\n"
      "    match:\n"
      "      message_types: DFT^P03\n"
      "      listeners: mllp-main\n"
      "      has_charges: true\n"
      "      coded: billable\n"
      "      codes: [{icd10cm: C00-D49}]\n"
      "      specialties: oncology\n"
      "      fields: [{field: PV1-2, equals: O}]\n"
      "    destinations: [a, b]\n");
  auto p = dft();
  coding::CodedRecord coded;
  coded.diagnoses.push_back(result({assigned("C50.911")}));
  coded.charges.push_back(result({assigned("J9035", coding::CodeSystem::kHcpcs)}));
  EXPECT_EQ(route(r, *p, &coded), (Decisions{{"a", "coded-oncology-charges"}, {"b", "coded-oncology-charges"}}));
  EXPECT_TRUE(route(r, *p, &coded, "mllp-lab").empty());
  EXPECT_TRUE(route(r, *p, nullptr).empty());
}

TEST(RoutingTest, BuildRejectsWhatConfigCannotKnow) {
  auto unknown = Router::build(configWith("  - {name: r, match: {specialties: [astrology]}, destinations: [a]}\n"));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kConfig);
  EXPECT_EQ(unknown.error().location, "routes[0].match.specialties[0]");
  EXPECT_NE(unknown.error().message.find("cardiology"), std::string::npos);

  // A Config built in code, not by loadConfig.
  config::Config c;
  c.destinations.push_back({});
  c.destinations[0].name = "a";
  config::RouteConfig rc;
  rc.name = "r";
  rc.destinations = {"zzz"};
  c.routes.push_back(rc);
  auto missing = Router::build(c);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().location, "routes[0].destinations[0]");

  c.routes[0].destinations = {"a"};
  c.routes[0].match.fields.push_back({"PV1", config::FieldOp::kEquals, {"I"}});
  auto path = Router::build(c);
  ASSERT_FALSE(path.has_value());
  EXPECT_EQ(path.error().location, "routes[0].match.fields[0]");

  c.routes[0].match.fields.clear();
  c.routes[0].match.codes.push_back({"snomed", "1", "2"});
  EXPECT_FALSE(Router::build(c).has_value());
  c.routes[0].match.codes = {{"icd10cm", "C00", "C0-0"}};
  EXPECT_FALSE(Router::build(c).has_value());
  c.routes[0].match.codes = {{"icd10cm", "c00", "d49.9"}};
  EXPECT_TRUE(Router::build(c).has_value());
}

TEST(RoutingTest, TheInsurerClaimsExample) {
  auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "INSURER_URL") return "https://insurer.example.test/fhir/Claim";
    if (name == "REGISTRY_HOST") return "registry.example.test";
    if (name == "REGISTRY_PORT") return "6661";
    if (name == "INSURER_CA" || name == "REGISTRY_CA") return "ca.pem";
    if (name == "CLAIMS_DIR") return "claims";
    return std::nullopt;
  };
  auto loaded = config::loadConfig(fs::path(COURIER_SOURCE_DIR) / "deploy/examples/insurer-claims.yaml", env,
                                   config::LoadOptions{std::nullopt, false});
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  auto router = Router::build(*loaded);
  ASSERT_TRUE(router.has_value()) << router.error().toString();

  auto p = dft();
  coding::CodedRecord coded;
  coded.diagnoses.push_back(result({assigned("C50.911")}));
  coded.charges.push_back(result({assigned("J9035", coding::CodeSystem::kHcpcs)}));
  EXPECT_EQ(router->route(RouteInput{p->record, &coded, "mllp-hospital", &p->message}),
            (Decisions{{"insurer", "coded-charges"},
                       {"claims-837p", "coded-charges"},
                       {"oncology-registry", "oncology-cases"}}));
  coded.charges[0].review = true;  // held for review: no claim yet, the registry still hears of it
  EXPECT_EQ(router->route(RouteInput{p->record, &coded, "mllp-hospital", &p->message}),
            (Decisions{{"oncology-registry", "oncology-cases"}}));
}

}  // namespace
}  // namespace courier::routing
