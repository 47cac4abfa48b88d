// The pipeline against a real store, the real coder and router, and the synthetic DFT^P03
// of tests/data/claims (no real patient data).
#include "engine/pipeline/pipeline.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/coding/mappings_dir.h"
#include "engine/hl7v2/message.h"
#include "tests/unit/pipeline/fixture.h"

namespace courier::pipeline {
namespace {

constexpr const char* kConfig = R"(
data_dir: /tmp/courier-pipeline-test
listeners:
  - {name: test, kind: mllp, port: 0, tls: {enabled: false}}
destinations:
  - name: insurer
    kind: https
    format: fhir-claim
    url: https://127.0.0.1:9/fhir/Claim
    claim: {submitter_id: COURIER01, receiver_id: INSURER01, billing_npi: "1234567893", payer_id: PAYER1}
  - name: registry
    kind: mllp
    host: 127.0.0.1
    port: 9
    format: hl7v2
    tls: {enabled: false}
routes:
  - name: claims
    match: {message_types: [DFT^P03], has_charges: true}
    destinations: [insurer]
  - name: oncology
    match: {codes: [{icd10cm: C00-D49}]}
    destinations: [registry]
)";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Removes the segment that starts with `prefix` (up to and including its CR).
std::string dropSegment(std::string msg, const std::string& prefix) {
  auto at = msg.find("\r" + prefix);
  if (at != std::string::npos) msg.erase(at + 1, msg.find('\r', at + 1) - at);
  return msg;
}

class PipelineTest : public testing::StoreFixture {
 protected:
  static void SetUpTestSuite() {
    auto coder = coding::RecordCoder::load(coding::defaultMappingsDir());
    ASSERT_TRUE(coder.has_value()) << coder.error().toString();
    coder_ = coder->release();
  }
  static void TearDownTestSuite() {
    delete coder_;
    coder_ = nullptr;
  }
  void SetUp() override {
    StoreFixture::SetUp();
    use(kConfig);
  }
  // Makes `text` the config (and its routes the router) of the pipelines this test makes.
  void use(const std::string& text) {
    config::LoadOptions load;
    load.check_files = false;
    auto cfg = config::parseConfig(text, "pipeline-test.yaml", config::processEnv(), load);
    ASSERT_TRUE(cfg.has_value()) << (cfg ? "" : cfg.error().front().toString());
    router_.reset();
    config_ = std::move(*cfg);
    auto router = routing::Router::build(config_);
    ASSERT_TRUE(router.has_value()) << router.error().toString();
    router_.emplace(std::move(*router));
  }
  Pipeline make() {
    PipelineOptions o;
    o.workers = 2;
    return Pipeline(*work_, config_, *router_, coder_, o);
  }
  std::vector<store::OutboxItem> outbox(const std::string& destination) {
    store::OutboxFilter f;
    f.destination = destination;
    f.limit = 0;
    return *work_->listOutbox(f);
  }

  static inline coding::RecordCoder* coder_ = nullptr;
  config::Config config_;
  std::optional<routing::Router> router_;
};

TEST_F(PipelineTest, CodesRoutesAndHoldsClaimsForReviewUntilResolved) {
  const std::string office = readFile(std::string(COURIER_SOURCE_DIR) + "/tests/data/claims/dft_p03_office.hl7");
  ASSERT_FALSE(office.empty());
  // Billable as is once the CPT line (FT1 2, venipuncture 36415) is gone; the second
  // diagnosis becomes an oncology one so that the registry wants it too.
  std::string billable = dropSegment(office, "FT1|2|");
  billable.replace(billable.find("I10^Essential (primary) hypertension"), 3, "C50.911");
  billable.replace(billable.find("|CLM0001|"), 9, "|CLM0099|");
  const std::string adt = "MSH|^~\\&|A|F|||20260210||ADT^A01|ADT1|P|2.5.1\rPID|1||MRN1^^^F^MR||DOE^J\r";
  auto ids = store({billable, office, "this is not HL7", adt});
  auto p = make();
  auto n = p.runOnce();
  ASSERT_TRUE(n.has_value()) << n.error().toString();
  EXPECT_EQ(*n, 4u);

  auto outcome = [&](std::size_t i) { return (*work_->outcome(ids[i]))->outcome; };
  EXPECT_EQ(outcome(0), "routed");
  EXPECT_EQ(outcome(1), "held-for-review") << "CPT 36415 is not in Courier's code sets";
  EXPECT_EQ(outcome(2), "failed");
  EXPECT_NE((*work_->outcome(ids[2]))->detail.find("HL7 v2"), std::string::npos);
  EXPECT_EQ(outcome(3), "no-route");
  EXPECT_NE((*work_->outcome(ids[0]))->codes.find("C50.911"), std::string::npos);

  auto claims = outbox("insurer");
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].message_id, ids[0]);
  EXPECT_EQ(claims[0].idempotency_key, "courier-" + std::to_string(ids[0]) + "-insurer");
  auto claim = work_->getOutbox(claims[0].id);
  EXPECT_NE(claim->payload.find("\"resourceType\":\"Claim\""), std::string::npos);
  EXPECT_NE(claim->payload.find("J1885"), std::string::npos);
  auto registry = outbox("registry");
  ASSERT_EQ(registry.size(), 1u);
  EXPECT_EQ(work_->getOutbox(registry[0].id)->payload, billable) << "hl7v2 destinations get the message as received";

  // The held message's review item; resolving it sends the claim.
  auto open = work_->listWorklist(store::ReviewState::kOpen, 0);
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].message_id, ids[1]);
  EXPECT_EQ((*open)[0].entry.kind, "charge");
  EXPECT_EQ((*open)[0].entry.item_index, 1);
  // A code that is not valid for the date opens the item again, saying why.
  ASSERT_TRUE(work_->resolveWorklist((*open)[0].id, {"99999"}, "coder").has_value());
  ASSERT_EQ(*p.runOnce(), 1u);
  EXPECT_EQ(outcome(1), "held-for-review");
  auto reopened = work_->listWorklist(store::ReviewState::kOpen, 0);
  ASSERT_EQ(reopened->size(), 1u);
  EXPECT_EQ(outbox("insurer").size(), 1u);
  ASSERT_TRUE(work_->resolveWorklist((*reopened)[0].id, {"G0439"}, "coder").has_value());
  ASSERT_EQ(*p.runOnce(), 1u);
  EXPECT_EQ(outcome(1), "routed");
  ASSERT_EQ(outbox("insurer").size(), 2u);
  EXPECT_EQ(outbox("insurer")[0].message_id, ids[1]);
  EXPECT_EQ(*p.runOnce(), 0u);
  EXPECT_EQ(p.stats().processed, 6u);
}

// A record the writer cannot make a claim of says why in its outcome, once per
// destination, and nothing is enqueued for that destination.
TEST_F(PipelineTest, ARecordThatIsNotClaimableSaysWhyOnce) {
  const std::string office = readFile(std::string(COURIER_SOURCE_DIR) + "/tests/data/claims/dft_p03_office.hl7");
  std::string credit = dropSegment(office, "FT1|2|");
  const auto ft1 = credit.find("\rFT1|1|");
  ASSERT_NE(ft1, std::string::npos);
  // FT1-6, the transaction type: a credit, which an original claim does not carry.
  std::size_t field = ft1 + 1;
  for (int i = 0; i < 6; ++i) field = credit.find('|', field) + 1;
  credit.replace(field, credit.find('|', field) - field, "CR");
  auto ids = store({credit});
  auto p = make();
  ASSERT_EQ(*p.runOnce(), 1u);
  auto o = *work_->outcome(ids[0]);
  ASSERT_TRUE(o.has_value());
  EXPECT_NE(o->detail.find("insurer: not claimable: charge 1 is a credit"), std::string::npos) << o->detail;
  EXPECT_EQ(o->detail.find("not claimable: not claimable"), std::string::npos) << o->detail;
  EXPECT_TRUE(outbox("insurer").empty());
}

TEST_F(PipelineTest, ARepeatedBatchEnqueuesNothingTwice) {
  const std::string office = readFile(std::string(COURIER_SOURCE_DIR) + "/tests/data/claims/dft_p03_office.hl7");
  std::string billable = dropSegment(office, "FT1|2|");
  auto ids = store({billable});
  auto p = make();
  auto items = work_->nextInbox(10);
  ASSERT_EQ(items->size(), 1u);
  auto once = p.process((*items)[0]);
  EXPECT_EQ(once.outcome, "routed");
  // As after a crash between two commits of the same work: the same results again.
  ASSERT_TRUE(work_->completeInbox({once}).has_value());
  ASSERT_TRUE(work_->completeInbox({p.process((*items)[0])}).has_value());
  EXPECT_EQ(outbox("insurer").size(), 1u);
  EXPECT_EQ(*work_->inboxMark(), ids[0]);
}

// A route that asks for billable codes matches nothing while a code waits for review; the
// message still goes to the worklist (not silently to "no-route"), and after review it
// is routed.
TEST_F(PipelineTest, ARouteForBillableCodesHoldsTheMessageInTheWorklist) {
  std::string yaml = kConfig;
  yaml.replace(yaml.find("has_charges: true}"), 18, "has_charges: true, coded: billable}");
  config::LoadOptions load;
  load.check_files = false;
  auto cfg = config::parseConfig(yaml, "pipeline-test.yaml", config::processEnv(), load);
  ASSERT_TRUE(cfg.has_value());
  auto router = routing::Router::build(*cfg);
  ASSERT_TRUE(router.has_value());
  PipelineOptions o;
  Pipeline p(*work_, *cfg, *router, coder_, o);
  const std::string office = readFile(std::string(COURIER_SOURCE_DIR) + "/tests/data/claims/dft_p03_office.hl7");
  auto ids = store({office});
  ASSERT_EQ(*p.runOnce(), 1u);
  EXPECT_EQ((*work_->outcome(ids[0]))->outcome, "held-for-review");
  auto open = work_->listWorklist(store::ReviewState::kOpen, 0);
  ASSERT_EQ(open->size(), 1u);
  ASSERT_TRUE(work_->resolveWorklist((*open)[0].id, {"G0439"}, "coder").has_value());
  ASSERT_EQ(*p.runOnce(), 1u);
  EXPECT_EQ((*work_->outcome(ids[0]))->outcome, "routed");
  EXPECT_EQ(outbox("insurer").size(), 1u);
}

// The site's map (mappings/sites/example_zpi.csv) is applied before routing: this sender
// puts its service in PV1-52, so a route on hospital service CAR matches only with it.
TEST_F(PipelineTest, SiteMapsApplyBeforeRouting) {
  use(std::string(kConfig) + R"(
  - name: cardiology
    match: {hospital_services: [CAR]}
    destinations: [registry]
)");
  auto map = record::SiteMap::load(std::string(COURIER_SOURCE_DIR) + "/mappings/sites/example_zpi.csv");
  ASSERT_TRUE(map.has_value());
  record::SiteMaps maps;
  maps.add("NORTHSIDE", "", std::move(*map));

  std::string pv1(52, '|');
  const auto adt = [&](const std::string& facility, const std::string& control) {
    return "MSH|^~\\&|REGSYS|" + facility + "|||20260210||ADT^A01|" + control + "|P|2.5.1\rPID|1||MRN7^^^F^MR||DOE^J\rPV1|1|I" +
           pv1.substr(2) + "CAR\r";
  };
  auto ids = store({adt("NORTHSIDE", "S1"), adt("SOUTHSIDE", "S2")});
  PipelineOptions o;
  o.site_maps = &maps;
  Pipeline p(*work_, config_, *router_, coder_, o);
  auto n = p.runOnce();
  ASSERT_TRUE(n.has_value()) << n.error().toString();
  EXPECT_EQ((*work_->outcome(ids[0]))->outcome, "routed") << "NORTHSIDE's PV1-52 is its hospital service";
  EXPECT_EQ((*work_->outcome(ids[1]))->outcome, "no-route") << "no map for SOUTHSIDE: PV1-52 means nothing";
  EXPECT_EQ(outbox("registry").size(), 1u);
}

// MSH-16: the application acknowledgement goes into the outbox of the destination named
// for the sender, with the batch; AR with an ERR when the message could not be processed.
TEST_F(PipelineTest, ApplicationAcksFollowMsh16ToTheSendersDestination) {
  std::string text = kConfig;
  text.insert(text.find("routes:"), R"(  - {name: lab-acks, kind: mllp, host: 127.0.0.1, port: 9, format: hl7v2, tls: {enabled: false}}
pipeline:
  application_acks:
    - {facility: LAB, application: LABSYS, destination: lab-acks}
)");
  use(text);

  const auto adt = [](const std::string& app, const std::string& control, const std::string& msh16,
                      bool with_pid = true) {
    return "MSH|^~\\&|" + app + "|LAB^2.16.840.1.113883.19.4.6^ISO|COURIER|HOSP|20260210||ADT^A01|" + control +
           "|P|2.5.1|||AL|" + msh16 + "\r" + (with_pid ? "PID|1||MRN7^^^F^MR||DOE^J\r" : "") + "PV1|1|I\r";
  };
  auto ids = store({adt("LABSYS", "A1", "AL"), adt("LABSYS", "A2", "ER"), adt("LABSYS", "A3", "AL", false),
                    adt("LABSYS", "A4", "SU", false), adt("OTHER", "A5", "AL"), adt("LABSYS", "A6", "")});
  Pipeline p(*work_, config_, *router_, coder_, PipelineOptions{});
  auto n = p.runOnce();
  ASSERT_TRUE(n.has_value()) << n.error().toString();

  auto acks = outbox("lab-acks");
  ASSERT_EQ(acks.size(), 2u) << "A1 (AL, processed) and A3 (AL, failed); ER/SU/none ask for nothing here";
  std::sort(acks.begin(), acks.end(), [](const auto& a, const auto& b) { return a.id < b.id; });  // listed newest first
  const std::string first_bytes = work_->getOutbox(acks[0].id)->payload;
  const std::string second_bytes = work_->getOutbox(acks[1].id)->payload;
  auto first = hl7v2::Message::parseOwned(first_bytes);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->get("MSA-1"), "AA");
  EXPECT_EQ(first->get("MSA-2"), "A1");
  EXPECT_EQ(first->get("MSH-5"), "LABSYS");
  EXPECT_EQ(acks[0].idempotency_key, "courier-" + std::to_string(ids[0]) + "-application-ack");
  auto second = hl7v2::Message::parseOwned(second_bytes);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->get("MSA-1"), "AR");
  EXPECT_EQ(second->get("MSA-2"), "A3");
  EXPECT_NE(second->get("ERR-8").find("PID"), std::string::npos) << second_bytes;
  EXPECT_EQ((*work_->outcome(ids[2]))->outcome, "failed");

  // A sender asking for one without a destination: none is sent, and the outcome says why.
  auto other = *work_->outcome(ids[4]);
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(other->detail.find("pipeline.application_acks names no destination for OTHER/LAB"), std::string::npos)
      << other->detail;
  EXPECT_EQ(p.stats().application_acks, 2u);
  EXPECT_EQ(p.stats().application_acks_unrouted, 1u);

}

}  // namespace
}  // namespace courier::pipeline
