// The sans-I/O FHIR REST answers of the HTTPS listener: targets with _history, what a
// create/update/transaction/batch becomes (resources to index, entry plans), the answers
// built once the store said "durable" (Location, ETag, response Bundles), and read/vread
// out of a stored message (id and meta set, everything else byte for byte).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "adapters/http/request_processor.h"

namespace courier::http {
namespace {

using namespace std::chrono;

config::ListenerConfig listener() {
  config::ListenerConfig l;
  l.name = "fhir-test";
  l.kind = config::ListenerKind::kHttp;
  return l;
}

store::TimePoint at(std::int64_t micros) { return store::TimePoint(microseconds(micros)); }

std::string header(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

rapidjson::Document json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

bool isUuid(const std::string& s) {
  if (s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' || s[14] != '4') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '-' || std::isxdigit(static_cast<unsigned char>(c)); });
}

class RestTest : public ::testing::Test {
 protected:
  config::ListenerConfig config_ = listener();
  RequestProcessor processor_{config_, TokenFile(), /*reads=*/true};

  Result<Submission, Response> prepare(std::string method, std::string target, std::string body) {
    return processor_.prepare(method, parseTarget(target), std::move(body), "lab", at(1'700'000'000'123'456));
  }
};

TEST(RestTargetTest, ParsesReadAndVread) {
  Target t = parseTarget("/fhir/Patient/abc-1/_history/42");
  EXPECT_EQ(t.route, Route::kResource);
  EXPECT_EQ(t.type, "Patient");
  EXPECT_EQ(t.id, "abc-1");
  EXPECT_EQ(t.version, "42");
  t = parseTarget("/fhir/Patient/abc-1");
  EXPECT_EQ(t.route, Route::kResource);
  EXPECT_TRUE(t.version.empty());
  EXPECT_EQ(parseTarget("/fhir/Patient/abc-1/_history").route, Route::kNotFound);
  EXPECT_EQ(parseTarget("/fhir/Patient/abc-1/_history/").route, Route::kNotFound);  // no history listing
  EXPECT_EQ(parseTarget("/fhir/Patient/abc-1/other/3").route, Route::kNotFound);
  EXPECT_EQ(parseTarget("/fhir/Patient/a/_history/3/4").route, Route::kNotFound);
  EXPECT_EQ(parseTarget("/fhir/Basic/1").route, Route::kNotFound);
}

TEST(RestCheckTest, ReadsOnlyWhenTheStoreIndexes) {
  auto config = listener();
  RequestProcessor with(config, TokenFile(), true), without(config, TokenFile(), false);
  const Target read = parseTarget("/fhir/Patient/p1"), vread = parseTarget("/fhir/Patient/p1/_history/3");
  EXPECT_FALSE(with.checkRequest("GET", read, ""));
  EXPECT_FALSE(with.checkRequest("HEAD", vread, ""));
  auto refused = without.checkRequest("GET", read, "");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 405u);
  ASSERT_TRUE(with.checkRequest("PUT", vread, "application/fhir+json"));
  EXPECT_EQ(with.checkRequest("DELETE", read, "")->status, 405u);
  // The CapabilityStatement says exactly that.
  auto has = [](const std::string& cs, const char* code) {
    return cs.find(std::string("{\"code\":\"") + code + "\"}") != std::string::npos;
  };
  EXPECT_TRUE(has(with.capabilityStatement(), "read"));
  EXPECT_TRUE(has(with.capabilityStatement(), "vread"));
  EXPECT_FALSE(has(without.capabilityStatement(), "read"));
  EXPECT_FALSE(has(without.capabilityStatement(), "vread"));
  EXPECT_TRUE(has(without.capabilityStatement(), "create"));
  EXPECT_FALSE(has(with.capabilityStatement(), "search-type"));
  EXPECT_FALSE(has(with.capabilityStatement(), "history-instance"));
}

TEST_F(RestTest, CreateGetsAFreshUuidAndTheAnswerLocatesIt) {
  auto a = prepare("POST", "/fhir/Patient", R"({"resourceType":"Patient","id":"mine"})");
  auto b = prepare("POST", "/fhir/Patient", R"({"resourceType":"Patient"})");
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->message.resources.size(), 1u);
  const auto& ref = a->message.resources[0];
  EXPECT_EQ(ref.type, "Patient");
  EXPECT_TRUE(isUuid(ref.id)) << ref.id;  // the body's own id is ignored (FHIR create)
  EXPECT_EQ(ref.entry, -1);
  EXPECT_NE(ref.id, b->message.resources[0].id);
  EXPECT_EQ(a->message.raw, R"({"resourceType":"Patient","id":"mine"})");  // stored as sent

  store::StoreReceipt receipt{77, false, store::AckCode::kAA, {false}};
  Response r = storedResponse(*a, receipt, "https://courier.example:8443");
  EXPECT_EQ(r.status, 201u);
  EXPECT_EQ(header(r, "Location"), "https://courier.example:8443/fhir/Patient/" + ref.id + "/_history/77");
  EXPECT_EQ(header(r, "ETag"), "W/\"77\"");
  EXPECT_EQ(header(r, "Last-Modified"), "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(header(r, "X-Courier-Message-Id"), "77");
}

TEST_F(RestTest, UpdateIs201WhenItCreatedAnd200WhenItReplaced) {
  auto s = prepare("PUT", "/fhir/Patient/p1", R"({"resourceType":"Patient","id":"p1"})");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->message.resources.size(), 1u);
  EXPECT_EQ(s->message.resources[0].id, "p1");
  EXPECT_EQ(storedResponse(*s, {5, false, store::AckCode::kAA, {false}}, "https://h").status, 201u);
  Response again = storedResponse(*s, {6, false, store::AckCode::kAA, {true}}, "https://h");
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(header(again, "Location"), "https://h/fhir/Patient/p1/_history/6");
  // A store without a resource index cannot tell: 200, as before.
  EXPECT_EQ(storedResponse(*s, {7, false, store::AckCode::kAA, {}}, "https://h").status, 200u);
}

const char* kTransaction = R"({"resourceType":"Bundle","type":"transaction","entry":[
  {"fullUrl":"urn:uuid:6f1c","resource":{"resourceType":"Patient","name":[{"family":"T"}]},
   "request":{"method":"POST","url":"Patient"}},
  {"resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},
   "valueQuantity":{"value":1.50}},"request":{"method":"PUT","url":"Observation/o1"}}]})";

TEST_F(RestTest, TransactionAnswersATransactionResponseInOrder) {
  auto s = prepare("POST", "/fhir", kTransaction);
  ASSERT_TRUE(s) << s.error().body;
  ASSERT_EQ(s->message.resources.size(), 2u);
  EXPECT_EQ(s->message.resources[0].entry, 0);
  EXPECT_EQ(s->message.resources[1].entry, 1);
  EXPECT_EQ(s->message.resources[1].id, "o1");
  Response r = storedResponse(*s, {9, false, store::AckCode::kAA, {false, true}}, "https://h");
  EXPECT_EQ(r.status, 200u);
  auto d = json(r.body);
  EXPECT_STREQ(d["type"].GetString(), "transaction-response");
  ASSERT_EQ(d["entry"].Size(), 2u);
  EXPECT_STREQ(d["entry"][0]["response"]["status"].GetString(), "201 Created");
  EXPECT_EQ(std::string(d["entry"][0]["response"]["location"].GetString()),
            "https://h/fhir/Patient/" + s->message.resources[0].id + "/_history/9");
  EXPECT_STREQ(d["entry"][1]["response"]["status"].GetString(), "200 OK");
  EXPECT_STREQ(d["entry"][1]["response"]["etag"].GetString(), "W/\"9\"");
  EXPECT_STREQ(d["entry"][1]["response"]["lastModified"].GetString(), "2023-11-14T22:13:20.123Z");
}

TEST_F(RestTest, TransactionIsAllOrNothing) {
  // One bad entry refuses the whole Bundle, naming the entry.
  auto bad = prepare("POST", "/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Observation","code":{"text":"x"}},"request":{"method":"POST","url":"Observation"}}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().status, 400u);
  EXPECT_NE(bad.error().body.find("Bundle.entry[1].resource.status"), std::string::npos);
  auto del = prepare("POST", "/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"DELETE","url":"Patient/p1"}}]})");
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().status, 422u);
  auto twice = prepare("POST", "/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"p"},"request":{"method":"PUT","url":"Patient/p"}},
    {"resource":{"resourceType":"Patient","id":"p"},"request":{"method":"PUT","url":"Patient/p"}}]})");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().status, 400u);
  auto mismatch = prepare("POST", "/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"resource":{"resourceType":"Patient","id":"p"},"request":{"method":"PUT","url":"Patient/q"}}]})");
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().body.find("Bundle.entry[0].resource.id"), std::string::npos);
}

TEST_F(RestTest, BatchEntriesFailOnTheirOwn) {
  auto s = prepare("POST", "/fhir", R"({"resourceType":"Bundle","type":"batch","entry":[
    {"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
    {"resource":{"resourceType":"Observation","code":{"text":"x"}},"request":{"method":"POST","url":"Observation"}},
    {"request":{"method":"GET","url":"Patient/p1"}},
    {"resource":{"resourceType":"Basic","code":{"text":"x"}},"request":{"method":"POST","url":"Basic"}},
    {"resource":{"resourceType":"Patient","id":"p9"},"request":{"method":"PUT","url":"Patient/p9"}}]})");
  ASSERT_TRUE(s) << s.error().body;
  ASSERT_EQ(s->message.resources.size(), 2u);
  EXPECT_EQ(s->message.resources[1].entry, 4);
  Response r = storedResponse(*s, {3, false, store::AckCode::kAA, {false, false}}, "https://h");
  EXPECT_EQ(r.status, 200u);
  auto d = json(r.body);
  EXPECT_STREQ(d["type"].GetString(), "batch-response");
  ASSERT_EQ(d["entry"].Size(), 5u);
  const char* statuses[] = {"201 Created", "400 Bad Request", "422 Unprocessable Entity", "422 Unprocessable Entity",
                            "201 Created"};
  for (rapidjson::SizeType i = 0; i < 5; ++i) {
    EXPECT_STREQ(d["entry"][i]["response"]["status"].GetString(), statuses[i]) << i;
  }
  const auto& outcome = d["entry"][1]["response"]["outcome"];
  EXPECT_STREQ(outcome["resourceType"].GetString(), "OperationOutcome");
  EXPECT_STREQ(outcome["issue"][0]["expression"][0].GetString(), "Bundle.entry[1].resource.status");
  EXPECT_FALSE(d["entry"][1].HasMember("fullUrl"));
}

TEST_F(RestTest, MessageBundlesIndexWhatHasAnIdAndStillAnswerAnOutcome) {
  auto s = prepare("POST", "/fhir/$process-message", R"({"resourceType":"Bundle","id":"m1","type":"message","entry":[
    {"resource":{"resourceType":"MessageHeader","id":"h","eventCoding":{"code":"x"},"source":{"endpoint":"https://s"}}},
    {"resource":{"resourceType":"Patient","id":"p2"}},{"resource":{"resourceType":"Patient"}}]})");
  ASSERT_TRUE(s) << s.error().body;
  ASSERT_EQ(s->message.resources.size(), 1u);  // MessageHeader is not served; the last has no id
  EXPECT_EQ(s->message.resources[0].id, "p2");
  EXPECT_EQ(s->message.resources[0].entry, 1);
  Response r = storedResponse(*s, {4, false, store::AckCode::kAA, {false}}, "https://h");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("\"OperationOutcome\""), std::string::npos);
  Response dup = storedResponse(*s, {4, true, store::AckCode::kAA, {}}, "https://h");
  EXPECT_EQ(header(dup, "X-Courier-Duplicate"), "true");
}

TEST(RestReadTest, ReturnsTheStoredResourceWithIdAndMeta) {
  store::ResourceVersion v;
  v.message_id = 12;
  v.entry = -1;
  v.received_at = at(1'700'000'000'123'456);
  v.raw = R"({"resourceType":"Observation","id":"theirs","meta":{"versionId":"x","profile":["http://p"],)"
          R"("_lastUpdated":{"id":"e"}},"status":"final","code":{"text":"a\"b"},"valueQuantity":{"value":1.50},)"
          R"("component":[{"code":{"text":"c"},"valueInteger":-3}]})";
  Target t = parseTarget("/fhir/Observation/o-1");
  Response r = readResponse(t, v);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body,
            R"({"resourceType":"Observation","meta":{"profile":["http://p"],"versionId":"12",)"
            R"("lastUpdated":"2023-11-14T22:13:20.123Z"},"status":"final","code":{"text":"a\"b"},)"
            R"("valueQuantity":{"value":1.50},"component":[{"code":{"text":"c"},"valueInteger":-3}],"id":"o-1"})");
  EXPECT_EQ(header(r, "ETag"), "W/\"12\"");
  EXPECT_EQ(header(r, "Last-Modified"), "Tue, 14 Nov 2023 22:13:20 GMT");
}

TEST(RestReadTest, TakesOneEntryOutOfABundle) {
  store::ResourceVersion v;
  v.message_id = 3;
  v.entry = 1;
  v.raw = R"({"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","id":"a"}},)"
          R"({"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","contained":[{"resourceType":"Patient",)"
          R"("id":"c"}],"name":[{"family":"B"}]},"request":{"method":"POST","url":"Patient"}}]})";
  Response r = readResponse(parseTarget("/fhir/Patient/new-id"), v);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, R"({"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"c"}],)"
                    R"("name":[{"family":"B"}],"id":"new-id","meta":{"versionId":"3","lastUpdated":"1970-01-01T00:00:00.000Z"}})");
  v.entry = 5;  // the message does not hold it (should not happen): an error, not a crash
  EXPECT_EQ(readResponse(parseTarget("/fhir/Patient/new-id"), v).status, 500u);
  v.raw = "{not json";
  EXPECT_EQ(readResponse(parseTarget("/fhir/Patient/new-id"), v).status, 500u);
}

TEST(RestReadTest, NotFoundIs404AndStoreFailureIs503) {
  Result<store::ResourceVersion> missing = Unexpected(Error(ErrorCode::kNotFound, "no"));
  Response r = readResponse(parseTarget("/fhir/Patient/x"), missing);
  EXPECT_EQ(r.status, 404u);
  EXPECT_NE(r.body.find("not-found"), std::string::npos);
  Result<store::ResourceVersion> down = Unexpected(Error(ErrorCode::kUnavailable, "disk"));
  r = readResponse(parseTarget("/fhir/Patient/x"), down);
  EXPECT_EQ(r.status, 503u);
  EXPECT_FALSE(header(r, "Retry-After").empty());
}

}  // namespace
}  // namespace courier::http
