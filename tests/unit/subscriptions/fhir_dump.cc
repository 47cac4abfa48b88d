// Writes every kind of JSON the subscriptions module produces, one document a line, for
// tests/tools/validate_fhir_json.py to check against the FHIR R4 schema
// (ctest: subscriptions_fhir_schema). Usage: subscriptions_fhir_dump RECORD_DIR
#include <cstdio>
#include <string>
#include <vector>

#include "engine/subscriptions/event.h"
#include "engine/subscriptions/notification.h"
#include "engine/subscriptions/topics.h"
#include "fixtures.h"

using namespace courier;
using namespace courier::subscriptions;

namespace {

int failures = 0;

void emit(const std::string& json) { std::printf("%s\n", json.c_str()); }

void emit(const Result<std::string>& json) {
  if (json.has_value()) {
    emit(*json);
  } else {
    std::fprintf(stderr, "FAIL %s\n", json.error().toString().c_str());
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: subscriptions_fhir_dump RECORD_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const char* kNow = "2026-01-15T08:31:00-05:00";
  emit(topicsBundleJson());
  for (const TopicInfo& t : allTopics()) emit(topicJson(t.name));

  auto spec = parseSubscription(subscriptions::testing::subscriptionJson(
      "diagnosis", {"Condition?code=http://hl7.org/fhir/sid/icd-10-cm|C00-D49", "patient=Patient/MRN1"},
      "full-resource", "https://registry.example/n",
      R"(,"header":["Authorization: Bearer x"],"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period","valueUnsignedInt":60}])"));
  if (!spec) {
    std::fprintf(stderr, "FAIL %s\n", spec.error().toString().c_str());
    return 1;
  }
  spec->id = "sub-1";
  emit(subscriptionJson(*spec));

  NotificationOptions opts{"https://courier.example.org/fhir"};
  uint64_t n = 0;
  for (const char* name : {"adt_a01.hl7", "oru_r01.hl7", "vxu_v04.hl7", "dft_p03.hl7", "siu_s12.hl7", "mdm_t02.hl7"}) {
    std::string text = subscriptions::testing::readFile(dir + "/" + name);
    for (char& c : text)
      if (c == '\n') c = '\r';
    auto msg = hl7v2::Message::parse(text);
    if (!msg) continue;
    auto rec = record::fromHl7v2(*msg);
    if (!rec) continue;
    auto resources = FocusResources::fromRecord(*rec);
    if (!resources) {
      std::fprintf(stderr, "FAIL %s: %s\n", name, resources.error().toString().c_str());
      ++failures;
      continue;
    }
    std::vector<Event> events = eventsFor(*rec, nullptr, {}, false);
    std::vector<NotificationEvent> all;
    for (const Event& e : events) all.push_back({++n, kNow, &e, &*resources});
    for (const NotificationEvent& ne : all) {
      SubscriptionState sub{"sub-1", ne.event->topic, SubscriptionStatus::kActive, ne.event_number, {}};
      for (PayloadContent c : {PayloadContent::kEmpty, PayloadContent::kIdOnly, PayloadContent::kFullResource}) {
        emit(notificationBundle(sub, c, std::span(&ne, 1), kNow, opts));
        emit(notificationBundle(sub, c, std::span(&ne, 1), kNow, {}));
      }
    }
    if (!all.empty()) {  // several events in one notification (a batch, or $events)
      SubscriptionState sub{"sub-1", Topic::kDiagnosis, SubscriptionStatus::kActive, n, {}};
      emit(notificationBundle(sub, PayloadContent::kFullResource, all, kNow, {}));
      emit(notificationBundle(sub, PayloadContent::kIdOnly, all, kNow, opts, NotificationType::kQueryEvent));
    }
  }
  // claim-produced: the focus is the Claim engine/claims wrote for this record (the claims
  // module's golden file), with the record's Patient and Encounter as context.
  {
    record::CanonicalRecord rec =
        subscriptions::testing::recordFrom(subscriptions::testing::readFile(dir + "/../claims/dft_p03_office.hl7"));
    auto resources = FocusResources::fromRecord(rec);
    std::string claim = subscriptions::testing::readFile(dir + "/../claims/dft_p03_office.claim.json");
    if (!resources || claim.empty() || !resources->addResource(claim)) {
      std::fprintf(stderr, "FAIL claim-produced: no record or Claim\n");
      ++failures;
    } else {
      for (const Event& e : eventsFor(rec, nullptr, {}, true)) {
        if (e.topic != Topic::kClaimProduced) continue;
        NotificationEvent ne{++n, kNow, &e, &*resources};
        SubscriptionState sub{"sub-3", Topic::kClaimProduced, SubscriptionStatus::kActive, ne.event_number, {}};
        for (PayloadContent c : {PayloadContent::kEmpty, PayloadContent::kIdOnly, PayloadContent::kFullResource}) {
          emit(notificationBundle(sub, c, std::span(&ne, 1), kNow, opts));
          emit(notificationBundle(sub, c, std::span(&ne, 1), kNow, {}));
        }
      }
    }
  }
  SubscriptionState active{"sub-1", Topic::kDiagnosis, SubscriptionStatus::kActive, n, {}};
  SubscriptionState broken{"sub-2", Topic::kImmunization, SubscriptionStatus::kError, 3, "endpoint unreachable"};
  emit(handshakeBundle(active, kNow, opts));
  emit(heartbeatBundle(active, kNow, {}));
  std::vector<SubscriptionState> both{active, broken};
  emit(statusJson(both, kNow, opts));
  emit(statusJson({}, kNow, opts));
  return failures == 0 ? 0 : 1;
}
