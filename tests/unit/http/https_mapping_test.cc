// The sans-I/O parts of the HTTPS destination: URL parsing and what an answer means.
#include <gtest/gtest.h>

#include "adapters/http/https_client.h"
#include "adapters/http/https_sink.h"

namespace courier::http {
namespace {

using delivery::DeliveryStatus;
using namespace std::chrono;

HttpResponse response(int status, std::string body = {}, HttpHeaders headers = {}) {
  return HttpResponse{status, std::move(headers), std::move(body)};
}

TEST(HttpsUrlTest, Parses) {
  auto u = parseHttpsUrl("https://payer.example:8443/fhir/r4?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "payer.example");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/fhir/r4?x=1");
  auto plain = parseHttpsUrl("HTTPS://payer.example");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->port, 443);
  EXPECT_EQ(plain->path, "/");
  auto v6 = parseHttpsUrl("https://[::1]:9000/x");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
}

TEST(HttpsUrlTest, RefusesWhatItCannotUse) {
  for (const char* url : {"http://payer.example/", "payer.example", "https://", "https://:443/", "https://h:0/",
                          "https://h:70000/", "https://h:/", "https://user:pw@h/", "https://h/x#frag", "https://[::1/"}) {
    auto u = parseHttpsUrl(url);
    ASSERT_FALSE(u) << url;
    EXPECT_EQ(u.error().code, ErrorCode::kConfig);
  }
}

TEST(HttpMappingTest, SuccessDelivers) {
  for (int s : {200, 201, 202, 204}) {
    auto r = mapHttpResponse(response(s, "{}"), system_clock::now());
    EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << s;
    EXPECT_EQ(r.detail, "HTTP " + std::to_string(s));
  }
}

TEST(HttpMappingTest, TransientAnswersRetryWithRetryAfter) {
  for (int s : {408, 429, 500, 502, 503, 504, 301, 100}) {
    auto r = mapHttpResponse(response(s), system_clock::now());
    EXPECT_EQ(r.status, DeliveryStatus::kRetry) << s;
    EXPECT_FALSE(r.retry_after) << s;
  }
  auto r = mapHttpResponse(response(503, "", {{"retry-after", "2"}}), system_clock::now());
  EXPECT_EQ(r.status, DeliveryStatus::kRetry);
  EXPECT_EQ(r.retry_after, milliseconds(2000));
  EXPECT_EQ(r.detail, "HTTP 503 (Retry-After 2 s)");
}

TEST(HttpMappingTest, OtherClientErrorsDeadLetterKeepingTheOutcome) {
  const std::string outcome =
      R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid",)"
      R"("diagnostics":"Claim.patient is required"}]})";
  for (int s : {400, 401, 403, 404, 409, 413, 415, 422}) {
    auto r = mapHttpResponse(response(s, outcome), system_clock::now());
    EXPECT_EQ(r.status, DeliveryStatus::kDeadLetter) << s;
    EXPECT_EQ(r.response, outcome);
    EXPECT_EQ(r.detail, "HTTP " + std::to_string(s) + ": Claim.patient is required");
  }
}

TEST(HttpMappingTest, BodiesThatAreNotOutcomesAddNothingToTheDetail) {
  for (const char* body : {"", "not json", "[1,2]", R"({"resourceType":"Bundle"})",
                           R"({"resourceType":"OperationOutcome","issue":"x"})",
                           R"({"resourceType":"OperationOutcome","issue":[{"details":{"text":7}}]})"}) {
    auto r = mapHttpResponse(response(400, body), system_clock::now());
    EXPECT_EQ(r.detail, "HTTP 400") << body;
  }
}

}  // namespace
}  // namespace courier::http
