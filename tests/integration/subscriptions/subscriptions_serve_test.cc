// FHIR topic-based subscriptions through a real `courier serve`: POST /fhir/Subscription
// with a bearer token, the handshake to a real HTTPS subscriber on 127.0.0.1, HL7 v2 in
// over MLLP, notifications out through the subscription's outbox, $status and $events.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/http/https_client.h"
#include "engine/store/work_store.h"
#include "tests/integration/subscriptions/subscription_support.h"
#include "tests/integration/test_support.h"

namespace courier::testing {
namespace {

using namespace std::chrono_literals;
using namespace subscriptions_support;

// An ORU-free DFT^P03 with one diagnosis, sent over plain MLLP; true when it was AA.
bool sendDiagnosis(std::uint16_t port, const std::string& control_id, const std::string& dx) {
  std::string m = "MSH|^~\\&|BILLING|SYNTHCLINIC|COURIER|HUB|20240501093000||DFT^P03^DFT_P03|" + control_id +
                  "|P|2.5.1\rEVN|P03|20240501093000\rPID|1||MRN" + control_id +
                  "^^^SYNTH^MR||DOE^JANE||19700101|F\rPV1|1|O|ONC^^^SYNTH||||1234567893^SMITH^JOHN|||ONC\r"
                  "DG1|1||" + dx + "^^I10||20240501|F\r";
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return false;
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string frame = "\x0b" + m + "\x1c\r";
  bool ok = ::send(fd, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size());
  std::string ack;
  char buf[4096];
  while (ok && ack.find('\x1c') == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    ack.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return ack.find("MSA|AA") != std::string::npos || ack.find("MSA|CA") != std::string::npos;
}

std::string subscriptionBody(const std::string& endpoint, int heartbeat_seconds = 0) {
  return R"({"resourceType":"Subscription","status":"requested","reason":"cancer registry",)"
         R"("criteria":"http://courier.example/fhir/SubscriptionTopic/diagnosis",)"
         R"("_criteria":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria",)"
         R"("valueString":"Condition?code=http://hl7.org/fhir/sid/icd-10-cm|C00-D49"}]},)"
         R"("channel":{)" +
         (heartbeat_seconds > 0
              ? R"("extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period","valueUnsignedInt":)" +
                    std::to_string(heartbeat_seconds) + "}],"
              : std::string()) +
         R"("type":"rest-hook","endpoint":")" +
         endpoint +
         R"(","payload":"application/fhir+json","_payload":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content","valueCode":"id-only"}]}}})";
}

struct Client {
  std::uint16_t port;
  Result<http::HttpResponse> call(const std::string& method, const std::string& path, const std::string& token,
                                  const std::string& body = {}) {
    http::HttpsTarget t;
    t.host = "127.0.0.1";
    t.port = port;
    t.tls.ca_files = {certDir() / "ca.crt"};
    t.tls.use_system_cas = false;
    http::HttpHeaders h;
    if (!token.empty()) h.emplace_back("Authorization", std::string("Bearer ") + token);
    if (!body.empty()) h.emplace_back("Content-Type", "application/fhir+json");
    return http::httpsRequest(t, method, path, h, body, 15s);
  }
};

// Event numbers ("event-number" valueString) found in a notification or $events Bundle.
std::vector<int> eventNumbers(const std::string& bundle) {
  std::vector<int> out;
  static const std::regex re(R"re("name":"event-number","value(?:String|UnsignedInt)":"?(\d+))re");
  for (auto it = std::sregex_iterator(bundle.begin(), bundle.end(), re); it != std::sregex_iterator(); ++it) {
    out.push_back(std::stoi((*it)[1]));
  }
  return out;
}

TEST(SubscriptionsServe, RegistryReceivesOncologyNotificationsInOrderAcrossAnOutage) {
  const fs::path dir = makeTempDir("subs-serve");
  auto serve = startServe(writeConfig(dir), dir / "var", dir / "serve.log");
  ASSERT_NE(serve.port, 0) << "courier serve did not come up; see " << (dir / "serve.log");
  // After the fork: the child must not inherit the subscriber's listening socket.
  Subscriber subscriber;
  const std::uint16_t hook_port = subscriber.start();
  ASSERT_NE(hook_port, 0);
  const std::uint16_t mllp = portOf(dir / "var/courier.ports", "mllp-in");
  Client fhir{portOf(dir / "var/courier.ports", "fhir")};
  ASSERT_NE(fhir.port, 0);
  const std::string endpoint = "https://localhost:" + std::to_string(hook_port) + "/hook";

  // Topics: readable by any authenticated client.
  auto topics = fhir.call("GET", "/fhir/SubscriptionTopic", kOtherToken);
  ASSERT_TRUE(topics) << topics.error().toString();
  EXPECT_EQ(topics->status, 200);
  EXPECT_NE(topics->body.find("SubscriptionTopic/diagnosis"), std::string::npos);

  // No token: 401. An http:// endpoint: 400 naming the element.
  auto anon = fhir.call("POST", "/fhir/Subscription", "", subscriptionBody(endpoint));
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->status, 401);
  auto plain = fhir.call("POST", "/fhir/Subscription", kRegistryToken,
                         subscriptionBody("http://localhost:" + std::to_string(hook_port) + "/hook"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 400);
  EXPECT_NE(plain->body.find("OperationOutcome"), std::string::npos);
  EXPECT_NE(plain->body.find("Subscription.channel.endpoint"), std::string::npos);
  // An end already past: 400 naming Subscription.end, and no handshake is tried.
  std::string ended = subscriptionBody(endpoint);
  ended.insert(ended.find(R"("criteria")"), R"("end":"2020-01-01T00:00:00Z",)");
  auto past = fhir.call("POST", "/fhir/Subscription", kRegistryToken, ended);
  ASSERT_TRUE(past);
  EXPECT_EQ(past->status, 400);
  EXPECT_NE(past->body.find("OperationOutcome"), std::string::npos);
  EXPECT_NE(past->body.find("Subscription.end"), std::string::npos);

  // Create: handshake -> active.
  auto created = fhir.call("POST", "/fhir/Subscription", kRegistryToken, subscriptionBody(endpoint));
  ASSERT_TRUE(created) << created.error().toString();
  ASSERT_EQ(created->status, 201) << created->body;
  const std::string location(created->header("Location"));
  ASSERT_EQ(location.rfind("/fhir/Subscription/", 0), 0u) << location;
  EXPECT_NE(created->body.find("\"status\":\"active\""), std::string::npos) << created->body;
  ASSERT_TRUE(waitUntil([&] { return !subscriber.bodies().empty(); }, 10s));
  EXPECT_NE(subscriber.bodies()[0].find("handshake"), std::string::npos);

  // Only the owner sees it.
  auto mine = fhir.call("GET", location, kRegistryToken);
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->status, 200);
  auto theirs = fhir.call("GET", location, kOtherToken);
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->status, 404);

  // Oncology (C50.911) is notified, hypertension (I10) is not.
  ASSERT_TRUE(sendDiagnosis(mllp, "ONC1", "C50.911"));
  ASSERT_TRUE(sendDiagnosis(mllp, "HTN1", "I10"));
  ASSERT_TRUE(waitUntil([&] { return subscriber.bodies().size() >= 2; }, 20s));
  ASSERT_TRUE(sendDiagnosis(mllp, "ONC2", "C18.9"));
  ASSERT_TRUE(waitUntil([&] { return subscriber.bodies().size() >= 3; }, 20s));

  // The endpoint goes down; two more events; it comes back: nothing lost, numbers go on.
  subscriber.stop();
  ASSERT_TRUE(sendDiagnosis(mllp, "ONC3", "C34.90"));
  ASSERT_TRUE(sendDiagnosis(mllp, "ONC4", "D05.10"));
  // Until Courier has tried and failed against the closed port (seen in the outbox).
  {
    auto work = store::openSqliteWorkStore(store::WorkStoreOptions{dir / "var/courier.db"});
    ASSERT_TRUE(work.has_value()) << work.error().toString();
    store::OutboxFilter f;
    f.destination = "subscription/" + location.substr(location.rfind('/') + 1);
    f.state = store::OutboxState::kPending;
    ASSERT_TRUE(waitUntil(
        [&] {
          auto items = (*work)->listOutbox(f);
          for (const auto& item : items ? *items : std::vector<store::OutboxItem>{}) {
            if (item.attempts > 0) return true;
          }
          return false;
        },
        20s))
        << "no failed delivery recorded while the endpoint was down";
  }
  // The port is free again once Courier closed its side of the connections we cut.
  ASSERT_TRUE(waitUntil([&] { return subscriber.start(hook_port) == hook_port; }, 10s));
  ASSERT_TRUE(waitUntil([&] { return subscriber.bodies().size() >= 5; }, 20s));

  std::vector<int> numbers;
  for (const auto& b : subscriber.bodies()) {
    if (b.find("event-notification") == std::string::npos) continue;
    for (int n : eventNumbers(b)) numbers.push_back(n);
  }
  EXPECT_EQ(numbers, (std::vector<int>{1, 2, 3, 4})) << "every oncology event once, in order";
  for (const auto& b : subscriber.bodies()) EXPECT_EQ(b.find("I10"), std::string::npos);

  // $status and $events.
  auto status = fhir.call("GET", location + "/$status", kRegistryToken);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  EXPECT_NE(status->body.find("\"active\""), std::string::npos) << status->body;
  EXPECT_NE(status->body.find("events-since-subscription-start"), std::string::npos);
  auto events = fhir.call("GET", location + "/$events?eventsSinceNumber=2&eventsUntilNumber=3", kRegistryToken);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->status, 200) << events->body;
  EXPECT_EQ(eventNumbers(events->body), (std::vector<int>{2, 3})) << events->body;
  EXPECT_NE(events->body.find("query-event"), std::string::npos);
  auto other_events = fhir.call("GET", location + "/$events", kOtherToken);
  ASSERT_TRUE(other_events);
  EXPECT_EQ(other_events->status, 404);

  // Delete: gone for the owner too.
  auto del = fhir.call("DELETE", location, kRegistryToken);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  auto after = fhir.call("GET", location, kRegistryToken);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 404);

  serve.child->signal(SIGTERM);
  EXPECT_TRUE(serve.child->wait(20s).has_value());
}

// Past the retry limit the subscription goes to error, with the reason; once the endpoint
// answers again (the next notification is delivered) it is active again, and the
// dead-lettered event can still be read with $events.
TEST(SubscriptionsServe, DeadEndpointPutsTheSubscriptionInErrorUntilItRecovers) {
  const fs::path dir = makeTempDir("subs-error");
  auto serve = startServe(writeConfig(dir, /*max_attempts=*/2), dir / "var", dir / "serve.log");
  ASSERT_NE(serve.port, 0) << "courier serve did not come up; see " << (dir / "serve.log");
  Subscriber subscriber;
  const std::uint16_t hook_port = subscriber.start();
  ASSERT_NE(hook_port, 0);
  const std::uint16_t mllp = portOf(dir / "var/courier.ports", "mllp-in");
  Client fhir{portOf(dir / "var/courier.ports", "fhir")};
  const std::string endpoint = "https://localhost:" + std::to_string(hook_port) + "/hook";
  auto created = fhir.call("POST", "/fhir/Subscription", kRegistryToken, subscriptionBody(endpoint));
  ASSERT_TRUE(created) << created.error().toString();
  ASSERT_EQ(created->status, 201) << created->body;
  const std::string location(created->header("Location"));
  auto statusIs = [&](const std::string& code) {
    auto st = fhir.call("GET", location + "/$status", kRegistryToken);
    return st && st->status == 200 && st->body.find("\"valueCode\":\"" + code + "\"") != std::string::npos;
  };
  ASSERT_TRUE(waitUntil([&] { return statusIs("active"); }, 10s));

  subscriber.stop();
  ASSERT_TRUE(sendDiagnosis(mllp, "ERR1", "C50.911"));
  ASSERT_TRUE(waitUntil([&] { return statusIs("error"); }, 20s)) << "the subscription never went to error";
  ASSERT_TRUE(waitUntil([&] { return subscriber.start(hook_port) == hook_port; }, 10s));
  ASSERT_TRUE(sendDiagnosis(mllp, "ERR2", "C18.9"));
  ASSERT_TRUE(waitUntil([&] { return statusIs("active"); }, 20s)) << "the subscription did not recover";
  auto events = fhir.call("GET", location + "/$events?eventsSinceNumber=1&eventsUntilNumber=1", kRegistryToken);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->status, 200);
  EXPECT_EQ(eventNumbers(events->body), (std::vector<int>{1})) << "the dead-lettered event is still there";
  serve.child->signal(SIGTERM);
  EXPECT_TRUE(serve.child->wait(20s).has_value());
}

// An idle subscription with a heartbeat period gets heartbeat notifications.
TEST(SubscriptionsServe, IdleSubscriptionGetsHeartbeats) {
  const fs::path dir = makeTempDir("subs-heartbeat");
  auto serve = startServe(writeConfig(dir), dir / "var", dir / "serve.log");
  ASSERT_NE(serve.port, 0) << "courier serve did not come up; see " << (dir / "serve.log");
  Subscriber subscriber;
  const std::uint16_t hook_port = subscriber.start();
  ASSERT_NE(hook_port, 0);
  Client fhir{portOf(dir / "var/courier.ports", "fhir")};
  const std::string endpoint = "https://localhost:" + std::to_string(hook_port) + "/hook";
  auto created = fhir.call("POST", "/fhir/Subscription", kRegistryToken, subscriptionBody(endpoint, 1));
  ASSERT_TRUE(created) << created.error().toString();
  ASSERT_EQ(created->status, 201) << created->body;
  auto heartbeats = [&] {
    int n = 0;
    for (const auto& b : subscriber.bodies()) n += b.find("\"heartbeat\"") != std::string::npos;
    return n;
  };
  ASSERT_TRUE(waitUntil([&] { return heartbeats() >= 2; }, 15s)) << "bodies received: " << subscriber.bodies().size();
  serve.child->signal(SIGTERM);
  EXPECT_TRUE(serve.child->wait(20s).has_value());
}

}  // namespace
}  // namespace courier::testing
