// Subscriptions through a FHIR client Courier did not write (issue 7): fhir-kit-client (npm,
// pinned in tests/tools/fhirclient, installed into the build tree by the
// subscriptions_fhirclient_npm_ci fixture) reads the CapabilityStatement and the topics,
// creates a Subscription against a real `courier serve` over HTTPS with a bearer token (the
// handshake goes to a real HTTPS subscriber on 127.0.0.1), reads it back and deletes it.
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/subscriptions/subscription_support.h"
#include "tests/integration/test_support.h"

namespace courier::testing {
namespace {

using namespace std::chrono_literals;
using namespace subscriptions_support;

// Single-quoted for sh (the arguments are ours: paths, a URL, a token).
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct NodeRun {
  int exit_code = -1;
  std::string output;
};

NodeRun runNode(const std::string& command) {
  NodeRun r;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) r.output += buf.data();
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(SubscriptionsFhirClient, FhirKitClientCreatesReadsAndDeletesASubscription) {
  const fs::path script = fs::path(COURIER_FHIRCLIENT_DIR) / "check_subscriptions.mjs";
  ASSERT_TRUE(fs::exists(fs::path(COURIER_FHIRCLIENT_DIR) / "node_modules/fhir-kit-client/package.json"))
      << "fhir-kit-client is not installed in " << COURIER_FHIRCLIENT_DIR
      << " (the subscriptions_fhirclient_npm_ci fixture runs npm ci there)";

  const fs::path dir = makeTempDir("subs-fhirclient");
  auto serve = startServe(writeConfig(dir), dir / "var", dir / "serve.log");
  ASSERT_NE(serve.port, 0) << "courier serve did not come up; see " << (dir / "serve.log");
  Subscriber subscriber;  // after the fork: the child must not inherit its socket
  const std::uint16_t hook_port = subscriber.start();
  ASSERT_NE(hook_port, 0);
  const std::uint16_t fhir_port = portOf(dir / "var/courier.ports", "fhir");
  ASSERT_NE(fhir_port, 0);

  const std::string base = "https://127.0.0.1:" + std::to_string(fhir_port) + "/fhir";
  const std::string endpoint = "https://localhost:" + std::to_string(hook_port) + "/hook";
  const std::string command = "NODE_EXTRA_CA_CERTS=" + quoted((certDir() / "ca.crt").string()) +
                              " timeout 30 " + quoted(COURIER_NODE) + " " + quoted(script.string()) + " " +
                              quoted(base) + " " + quoted(kRegistryToken) + " " + quoted(endpoint) + " 2>&1";
  const NodeRun run = runNode(command);
  EXPECT_EQ(run.exit_code, 0) << command << "\n" << run.output << "\nserve log: " << (dir / "serve.log");
  EXPECT_NE(run.output.find("create/read/delete Subscription/"), std::string::npos) << run.output;

  // The create really went through Courier: the subscriber got the handshake.
  EXPECT_TRUE(waitUntil([&] { return !subscriber.bodies().empty(); }, 10s));
  if (!subscriber.bodies().empty()) {
    EXPECT_NE(subscriber.bodies()[0].find("handshake"), std::string::npos);
  }

  serve.child->signal(SIGTERM);
  EXPECT_TRUE(serve.child->wait(20s).has_value());
}

}  // namespace
}  // namespace courier::testing
