// The HTTPS FHIR listener with a real TLS client on 127.0.0.1 port 0: authentication
// (tokens, client certificates), validation errors as OperationOutcomes, body limits,
// storage failure, $process-message deduplication, metadata, metrics.
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <fstream>
#include <map>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "adapters/http/server.h"
#include "engine/tls/tls_context.h"
#include "tests/integration/test_support.h"

namespace courier::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

constexpr const char* kToken = "0123456789abcdef0123456789abcdef";
constexpr const char* kFhirJson = "application/fhir+json";

struct Reply {
  unsigned status = 0;  // 0: transport failure (see error)
  std::string body;
  std::map<std::string, std::string> headers;
  std::string error;
};

struct Call {
  std::string method = "GET";
  std::string target = "/health";
  std::string body;
  std::string content_type = kFhirJson;
  std::string authorization;
  bool client_cert = false;
  fs::path ca_file;  // empty: the test CA
};

// One request on a fresh TLS connection. Blocking, bounded by socket timeouts (10s).
Reply send(std::uint16_t port, const Call& c) {
  Reply out;
  tls::ClientTlsOptions o;
  o.ca_file = c.ca_file.empty() ? certDir() / "ca.crt" : c.ca_file;
  if (c.client_cert) {
    o.cert_file = certDir() / "client.crt";
    o.key_file = certDir() / "client.key";
  }
  auto ctx = tls::makeClientTlsContext(o);
  if (!ctx) {
    out.error = ctx.error().toString();
    return out;
  }
  asio::io_context ioc;
  asio::ssl::stream<tcp::socket> stream(ioc, **ctx);
  boost::system::error_code ec;
  stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) {
    out.error = "connect: " + ec.message();
    return out;
  }
  timeval tv{10, 0};
  ::setsockopt(stream.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(stream.next_layer().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) {
    out.error = "handshake: " + ec.message();
    return out;
  }
  bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(c.method), c.target, 11);
  req.set(bhttp::field::host, "127.0.0.1");
  if (!c.body.empty() || c.method == "POST" || c.method == "PUT") {
    req.set(bhttp::field::content_type, c.content_type);
    req.body() = c.body;
  }
  if (!c.authorization.empty()) req.set(bhttp::field::authorization, c.authorization);
  req.prepare_payload();
  bhttp::write(stream, req, ec);
  if (ec) {
    out.error = "write: " + ec.message();
    return out;
  }
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buffer, res, ec);
  if (ec) {
    out.error = "read: " + ec.message();
    return out;
  }
  out.status = res.result_int();
  out.body = res.body();
  for (const auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
  stream.shutdown(ec);
  return out;
}

Call post(std::string target, std::string body) {
  Call c;
  c.method = "POST";
  c.target = std::move(target);
  c.body = std::move(body);
  c.authorization = std::string("Bearer ") + kToken;
  return c;
}

// The issue of an OperationOutcome: code and first expression.
struct Issue {
  bool ok = false;
  std::string code;
  std::string expression;
};
Issue outcome(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  Issue i;
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("resourceType") || !d["resourceType"].IsString() ||
      std::string(d["resourceType"].GetString()) != "OperationOutcome" || !d.HasMember("issue") ||
      !d["issue"].IsArray() || d["issue"].Empty()) {
    return i;
  }
  const auto& issue = d["issue"][0];
  i.ok = true;
  if (issue.HasMember("code") && issue["code"].IsString()) i.code = issue["code"].GetString();
  if (issue.HasMember("expression") && issue["expression"].IsArray() && !issue["expression"].Empty() &&
      issue["expression"][0].IsString()) {
    i.expression = issue["expression"][0].GetString();
  }
  return i;
}

const char* kPatient = R"({"resourceType":"Patient","id":"p1","name":[{"family":"Test","given":["A"]}]})";

std::string messageBundle(const std::string& id) {
  return R"({"resourceType":"Bundle","id":")" + id +
         R"(","type":"message","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"MessageHeader","id":"h1",)"
         R"("eventCoding":{"system":"http://example.org/events","code":"admit"},)"
         R"("source":{"endpoint":"https://sender.example.org/fhir"}}},)"
         R"({"fullUrl":"urn:uuid:2","resource":{"resourceType":"Patient","id":"p2"}}]})";
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = makeTempDir("http"); }
  void TearDown() override {
    if (server_) {
      server_->stopAccepting();
      server_->waitForInFlight(std::chrono::seconds(10));
    }
    if (store_) store_->close();
    if (server_) server_->stop();
  }

  config::ListenerConfig listener() {
    config::ListenerConfig l = tlsListener(config::ClientCertMode::kOptional, "fhir-test");
    l.kind = config::ListenerKind::kHttp;
    l.http.token_file = dir_ / "tokens";
    l.http.max_body_bytes = 4096;
    std::ofstream(l.http.token_file) << "# test tokens\nlab-system " << kToken << "\n";
    return l;
  }

  void start(config::ListenerConfig l,
             std::function<Result<void>(store::SqliteFaultPoint, sqlite3*)> fault = {}) {
    store_ = openStore(dir_, std::move(fault));
    ASSERT_TRUE(store_);
    auto s = http::Server::create({std::move(l)}, *store_, {.io_threads = 2});
    ASSERT_TRUE(s) << s.error().toString();
    server_ = std::move(*s);
    ASSERT_TRUE(server_->start());
    port_ = server_->port("fhir-test");
    ASSERT_NE(port_, 0);
  }

  std::vector<store::MessageSummary> stored() {
    store::MessageFilter f;
    f.limit = 0;
    auto all = store_->list(f);
    return all ? *all : std::vector<store::MessageSummary>{};
  }

  fs::path dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<http::Server> server_;
  std::uint16_t port_ = 0;
};

TEST_F(HttpServerTest, HealthAnswersWithoutAuthentication) {
  start(listener());
  Reply r = send(port_, {});
  ASSERT_EQ(r.status, 200u) << r.error;
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(HttpServerTest, GoodTokenStoresTheResourceBeforeAnswering201) {
  start(listener());
  Reply r = send(port_, post("/fhir/Patient", kPatient));
  ASSERT_EQ(r.status, 201u) << r.error << r.body;
  EXPECT_EQ(outcome(r.body).code, "informational");
  // The answer came after the commit: the message is already in the store.
  auto all = stored();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].message_type, "FHIR");
  EXPECT_EQ(all[0].trigger, "Patient");
  EXPECT_EQ(all[0].listener, "fhir-test");
  EXPECT_EQ(all[0].peer_identity, "lab-system");
  EXPECT_EQ(r.headers["X-Courier-Message-Id"], std::to_string(all[0].id));
  auto full = store_->get(all[0].id);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->raw, kPatient);
}

TEST_F(HttpServerTest, PutCreatesWith201ThenUpdatesWith200) {
  start(listener());
  Call c = post("/fhir/Patient/p1", kPatient);
  c.method = "PUT";
  Reply r = send(port_, c);
  EXPECT_EQ(r.status, 201u) << r.error << r.body;  // it did not exist: created
  const std::string base = "https://127.0.0.1:" + std::to_string(port_) + "/fhir/Patient/p1/_history/";
  EXPECT_EQ(r.headers["Location"], base + r.headers["X-Courier-Message-Id"]);
  r = send(port_, c);
  EXPECT_EQ(r.status, 200u) << r.error << r.body;
  EXPECT_EQ(r.headers["Location"], base + r.headers["X-Courier-Message-Id"]);
  EXPECT_EQ(r.headers["ETag"], "W/\"" + r.headers["X-Courier-Message-Id"] + "\"");
  c.target = "/fhir/Patient/other";
  r = send(port_, c);
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(outcome(r.body).expression, "Patient.id");
}

Call get(std::string target) {
  Call c;
  c.target = std::move(target);
  c.authorization = std::string("Bearer ") + kToken;
  return c;
}

// The path of an absolute Location ("https://host:port/fhir/...").
std::string pathOf(const std::string& url) {
  std::size_t scheme = url.find("://");
  std::size_t slash = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  return slash == std::string::npos ? std::string() : url.substr(slash);
}

std::string memberOf(const std::string& body, const char* name) {
  rapidjson::Document d;
  d.Parse(body.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember(name) || !d[name].IsString()) return {};
  return d[name].GetString();
}

TEST_F(HttpServerTest, CreateLocatesTheResourceAndReadReturnsItAsStored) {
  start(listener());
  const std::string body = R"({"resourceType":"Observation","status":"final","code":{"text":"k"},)"
                           R"("valueQuantity":{"value":4.10,"unit":"mmol/L"}})";
  Reply created = send(port_, post("/fhir/Observation", body));
  ASSERT_EQ(created.status, 201u) << created.error << created.body;
  const std::string location = created.headers["Location"];
  const std::string vid = created.headers["X-Courier-Message-Id"];
  ASSERT_EQ(location.rfind("https://127.0.0.1:", 0), 0u) << location;
  const std::string path = pathOf(location);
  ASSERT_EQ(path.rfind("/fhir/Observation/", 0), 0u);
  ASSERT_EQ(path.substr(path.size() - vid.size() - 10), "/_history/" + vid);
  EXPECT_EQ(created.headers["ETag"], "W/\"" + vid + "\"");
  EXPECT_NE(created.headers["Last-Modified"].find(" GMT"), std::string::npos);
  const std::string id = path.substr(18, path.size() - 18 - vid.size() - 10);

  // vread at the Location, read at the resource: the same, as stored, with id and meta.
  Reply vread = send(port_, get(path));
  ASSERT_EQ(vread.status, 200u) << vread.body;
  Reply read = send(port_, get("/fhir/Observation/" + id));
  ASSERT_EQ(read.status, 200u) << read.body;
  EXPECT_EQ(read.body, vread.body);
  EXPECT_EQ(memberOf(read.body, "id"), id);
  EXPECT_NE(read.body.find(R"("valueQuantity":{"value":4.10,"unit":"mmol/L"})"), std::string::npos) << read.body;
  EXPECT_NE(read.body.find(R"("versionId":")" + vid + "\""), std::string::npos) << read.body;
  EXPECT_EQ(read.headers["ETag"], created.headers["ETag"]);
  EXPECT_EQ(read.headers["Last-Modified"], created.headers["Last-Modified"]);

  // Another create is another resource.
  Reply other = send(port_, post("/fhir/Observation", body));
  ASSERT_EQ(other.status, 201u);
  EXPECT_NE(pathOf(other.headers["Location"]).substr(0, 54), path.substr(0, 54));

  // Unknown: 404 OperationOutcomes; HEAD has the headers and no body.
  Reply missing = send(port_, get("/fhir/Observation/nope"));
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(outcome(missing.body).code, "not-found");
  EXPECT_EQ(send(port_, get("/fhir/Observation/" + id + "/_history/999999")).status, 404u);
  EXPECT_EQ(send(port_, get("/fhir/Observation/" + id + "/_history/abc")).status, 404u);
  EXPECT_EQ(send(port_, get("/fhir/Patient/" + id)).status, 404u);
  Call head = get("/fhir/Observation/" + id);
  head.method = "HEAD";
  Reply h = send(port_, head);
  EXPECT_EQ(h.status, 200u);
  EXPECT_EQ(h.headers["ETag"], created.headers["ETag"]);
  // Reads need authentication too.
  Call anonymous = get("/fhir/Observation/" + id);
  anonymous.authorization.clear();
  EXPECT_EQ(send(port_, anonymous).status, 401u);
}

TEST_F(HttpServerTest, ReadFollowsUpdatesAndVreadKeepsOldVersions) {
  start(listener());
  Call put = post("/fhir/Patient/p1", R"({"resourceType":"Patient","id":"p1","active":false})");
  put.method = "PUT";
  Reply v1 = send(port_, put);
  ASSERT_EQ(v1.status, 201u);
  put.body = R"({"resourceType":"Patient","id":"p1","active":true})";
  Reply v2 = send(port_, put);
  ASSERT_EQ(v2.status, 200u);
  Reply now = send(port_, get("/fhir/Patient/p1"));
  ASSERT_EQ(now.status, 200u);
  EXPECT_NE(now.body.find(R"("active":true)"), std::string::npos);
  EXPECT_EQ(now.headers["ETag"], v2.headers["ETag"]);
  Reply then = send(port_, get(pathOf(v1.headers["Location"])));
  ASSERT_EQ(then.status, 200u);
  EXPECT_NE(then.body.find(R"("active":false)"), std::string::npos);
  // A message Bundle's entries are readable too (the Patient of messageBundle()).
  ASSERT_EQ(send(port_, post("/fhir/$process-message", messageBundle("msg-r"))).status, 200u);
  Reply p2 = send(port_, get("/fhir/Patient/p2"));
  ASSERT_EQ(p2.status, 200u) << p2.body;
  EXPECT_EQ(memberOf(p2.body, "resourceType"), "Patient");
}

TEST_F(HttpServerTest, TransactionAnswersATransactionResponseAndIsAllOrNothing) {
  start(listener());
  const std::string tx = R"({"resourceType":"Bundle","type":"transaction","entry":[)"
                         R"({"resource":{"resourceType":"Patient","name":[{"family":"Tx"}]},)"
                         R"("request":{"method":"POST","url":"Patient"}},)"
                         R"({"resource":{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"}},)"
                         R"("request":{"method":"PUT","url":"Encounter/e1"}}]})";
  Reply r = send(port_, post("/fhir", tx));
  ASSERT_EQ(r.status, 200u) << r.error << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["type"].GetString(), "transaction-response");
  ASSERT_EQ(d["entry"].Size(), 2u);
  EXPECT_STREQ(d["entry"][0]["response"]["status"].GetString(), "201 Created");
  EXPECT_STREQ(d["entry"][1]["response"]["status"].GetString(), "201 Created");
  for (rapidjson::SizeType i = 0; i < 2; ++i) {
    Reply read = send(port_, get(pathOf(d["entry"][i]["response"]["location"].GetString())));
    EXPECT_EQ(read.status, 200u) << i;
  }
  EXPECT_EQ(memberOf(send(port_, get("/fhir/Encounter/e1")).body, "status"), "finished");
  // The same transaction again updates e1 (200) and creates another Patient.
  Reply again = send(port_, post("/fhir", tx));
  ASSERT_EQ(again.status, 200u);
  d.Parse(again.body.c_str());
  EXPECT_STREQ(d["entry"][1]["response"]["status"].GetString(), "200 OK");
  const std::size_t before = stored().size();
  // One bad entry: the whole transaction is refused and nothing is stored.
  std::string bad = tx;
  bad.replace(bad.find(R"("status":"finished",)"), 20, "");
  Reply refused = send(port_, post("/fhir", bad));
  EXPECT_EQ(refused.status, 400u);
  EXPECT_EQ(outcome(refused.body).expression, "Bundle.entry[1].resource.status");
  EXPECT_EQ(stored().size(), before);
}

TEST_F(HttpServerTest, BatchEntriesSucceedOrFailOnTheirOwn) {
  start(listener());
  const std::string batch = R"({"resourceType":"Bundle","type":"batch","entry":[)"
                            R"({"resource":{"resourceType":"Patient","id":"b1"},"request":{"method":"PUT","url":"Patient/b1"}},)"
                            R"({"resource":{"resourceType":"Observation","code":{"text":"x"}},)"
                            R"("request":{"method":"POST","url":"Observation"}},)"
                            R"({"request":{"method":"DELETE","url":"Patient/b1"}}]})";
  Reply r = send(port_, post("/fhir", batch));
  ASSERT_EQ(r.status, 200u) << r.error << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["type"].GetString(), "batch-response");
  ASSERT_EQ(d["entry"].Size(), 3u);
  EXPECT_STREQ(d["entry"][0]["response"]["status"].GetString(), "201 Created");
  EXPECT_STREQ(d["entry"][1]["response"]["status"].GetString(), "400 Bad Request");
  EXPECT_STREQ(d["entry"][1]["response"]["outcome"]["issue"][0]["expression"][0].GetString(),
               "Bundle.entry[1].resource.status");
  EXPECT_STREQ(d["entry"][2]["response"]["status"].GetString(), "422 Unprocessable Entity");
  EXPECT_EQ(send(port_, get("/fhir/Patient/b1")).status, 200u);
  EXPECT_EQ(stored().size(), 1u);
}

TEST_F(HttpServerTest, MissingOrBadTokenIs401WithOperationOutcome) {
  start(listener());
  Call c = post("/fhir/Patient", kPatient);
  c.authorization.clear();
  Reply r = send(port_, c);
  ASSERT_EQ(r.status, 401u) << r.error;
  EXPECT_TRUE(outcome(r.body).ok);
  EXPECT_EQ(outcome(r.body).code, "login");
  EXPECT_NE(r.headers["WWW-Authenticate"].find("Bearer"), std::string::npos);
  c.authorization = "Bearer not-the-right-token-at-all";
  r = send(port_, c);
  EXPECT_EQ(r.status, 401u);
  c.authorization = "Basic dXNlcjpwYXNz";
  r = send(port_, c);
  EXPECT_EQ(r.status, 401u);
  // Every endpoint but /health needs authentication.
  Call m;
  m.target = "/fhir/metadata";
  EXPECT_EQ(send(port_, m).status, 401u);
  m.target = "/metrics";
  EXPECT_EQ(send(port_, m).status, 401u);
  EXPECT_TRUE(stored().empty());
}

TEST_F(HttpServerTest, ClientCertificateAuthenticatesAndAllowedClientsAreEnforced) {
  start(listener());
  Call c = post("/fhir/Patient", kPatient);
  c.authorization.clear();
  c.client_cert = true;
  Reply r = send(port_, c);
  ASSERT_EQ(r.status, 201u) << r.error << r.body;
  auto all = stored();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_FALSE(all[0].peer_identity.empty());
  EXPECT_NE(all[0].peer_identity, "lab-system");
}

TEST_F(HttpServerTest, CertificateNotInAllowedClientsIs403) {
  auto l = listener();
  l.allowed_clients.push_back({"some-other-client", {"*"}});
  start(std::move(l));
  Call c = post("/fhir/Patient", kPatient);
  c.authorization.clear();
  c.client_cert = true;
  Reply r = send(port_, c);
  ASSERT_EQ(r.status, 403u) << r.error << r.body;
  EXPECT_EQ(outcome(r.body).code, "forbidden");
  EXPECT_TRUE(stored().empty());
}

TEST_F(HttpServerTest, InvalidContentIs400WithTheElementPath) {
  start(listener());
  Reply r = send(port_, post("/fhir/Patient", R"({"resourceType":"Patient", "name": [)"));
  ASSERT_EQ(r.status, 400u) << r.error;
  EXPECT_EQ(outcome(r.body).code, "invalid");
  EXPECT_FALSE(outcome(r.body).expression.empty());

  r = send(port_, post("/fhir/Observation", R"({"resourceType":"Observation","code":{"text":"x"}})"));
  ASSERT_EQ(r.status, 400u);
  EXPECT_EQ(outcome(r.body).expression, "Observation.status");

  r = send(port_, post("/fhir", R"({"resourceType":"Bundle","type":"collection","entry":[)"
                                R"({"resource":{"resourceType":"Patient"}},{"resource":{"resourceType":"Patient","name":[]}}]})"));
  ASSERT_EQ(r.status, 400u);
  EXPECT_EQ(outcome(r.body).expression, "Bundle.entry[1].resource.name");

  r = send(port_, post("/fhir/Patient", R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})"));
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(outcome(r.body).expression, "resourceType");

  r = send(port_, post("/fhir", R"({"resourceType":"Bundle","type":"searchset"})"));
  EXPECT_EQ(r.status, 422u);
  EXPECT_EQ(outcome(r.body).expression, "Bundle.type");
  EXPECT_TRUE(stored().empty());
}

TEST_F(HttpServerTest, WrongContentTypeIs415) {
  start(listener());
  Call c = post("/fhir/Patient", kPatient);
  c.content_type = "application/xml";
  Reply r = send(port_, c);
  ASSERT_EQ(r.status, 415u) << r.error;
  EXPECT_TRUE(outcome(r.body).ok);
  c.content_type = "application/json; charset=utf-8";
  EXPECT_EQ(send(port_, c).status, 201u);
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  start(listener());
  std::string big = R"({"resourceType":"Patient","text":{"status":"generated","div":")" + std::string(8000, 'x') + "\"}}";
  Reply r = send(port_, post("/fhir/Patient", big));
  ASSERT_EQ(r.status, 413u) << r.error;
  EXPECT_TRUE(outcome(r.body).ok);
  EXPECT_TRUE(stored().empty());
  // The server is still fine afterwards.
  EXPECT_EQ(send(port_, post("/fhir/Patient", kPatient)).status, 201u);
}

TEST_F(HttpServerTest, StorageFailureIs503) {
  std::atomic<bool> fail{true};
  start(listener(), [&fail](store::SqliteFaultPoint point, sqlite3*) -> Result<void> {
    if (fail && point == store::SqliteFaultPoint::kBeforeCommit) {
      return Unexpected(Error(ErrorCode::kUnavailable, "injected disk failure"));
    }
    return Ok();
  });
  Reply r = send(port_, post("/fhir/Patient", kPatient));
  ASSERT_EQ(r.status, 503u) << r.error;
  EXPECT_EQ(outcome(r.body).code, "transient");
  EXPECT_FALSE(r.headers["Retry-After"].empty());
  fail = false;  // storage recovers: so does the listener
  EXPECT_EQ(send(port_, post("/fhir/Patient", kPatient)).status, 201u);
  EXPECT_EQ(stored().size(), 1u);
}

TEST_F(HttpServerTest, ProcessMessageTwiceIsStoredOnce) {
  start(listener());
  Reply first = send(port_, post("/fhir/$process-message", messageBundle("msg-1")));
  ASSERT_EQ(first.status, 200u) << first.error << first.body;
  Reply again = send(port_, post("/fhir/$process-message", messageBundle("msg-1")));
  ASSERT_EQ(again.status, 200u);
  EXPECT_EQ(again.headers["X-Courier-Duplicate"], "true");
  EXPECT_EQ(again.headers["X-Courier-Message-Id"], first.headers["X-Courier-Message-Id"]);
  auto all = stored();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].control_id, "msg-1");
  EXPECT_EQ(all[0].duplicates, 1);
  // Another message id is another message.
  EXPECT_EQ(send(port_, post("/fhir/$process-message", messageBundle("msg-2"))).status, 200u);
  EXPECT_EQ(stored().size(), 2u);
  // A Bundle that is not a message is refused.
  Reply r = send(port_, post("/fhir/$process-message", R"({"resourceType":"Bundle","type":"collection"})"));
  EXPECT_EQ(r.status, 422u);
}

TEST_F(HttpServerTest, MetadataIsACapabilityStatement) {
  start(listener());
  Call c;
  c.target = "/fhir/metadata";
  c.authorization = std::string("Bearer ") + kToken;
  Reply r = send(port_, c);
  ASSERT_EQ(r.status, 200u) << r.error;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["resourceType"].GetString(), "CapabilityStatement");
  EXPECT_STREQ(d["fhirVersion"].GetString(), "4.0.1");
  EXPECT_STREQ(d["kind"].GetString(), "instance");
  ASSERT_TRUE(d["rest"].IsArray());
  EXPECT_EQ(d["rest"][0]["resource"].Size(), 10u);
  // Exactly what works: read, vread, update, create; no search, history or delete.
  const auto& interactions = d["rest"][0]["resource"][0]["interaction"];
  std::vector<std::string> codes;
  for (const auto& i : interactions.GetArray()) codes.emplace_back(i["code"].GetString());
  EXPECT_EQ(codes, (std::vector<std::string>{"read", "vread", "update", "create"}));
  EXPECT_FALSE(d["rest"][0].HasMember("searchParam"));
  EXPECT_STREQ(d["rest"][0]["operation"][0]["name"].GetString(), "process-message");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405) {
  start(listener());
  Call c = post("/fhir/Basic", R"({"resourceType":"Basic"})");
  EXPECT_EQ(send(port_, c).status, 404u);
  c.target = "/fhir/metadata";
  Reply r = send(port_, c);
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.headers["Allow"], "GET, HEAD");
  c = post("/fhir/Patient", kPatient);
  c.method = "DELETE";
  EXPECT_EQ(send(port_, c).status, 405u);
}

TEST_F(HttpServerTest, ReadyAndMetrics) {
  start(listener());
  ASSERT_EQ(send(port_, post("/fhir/Patient", kPatient)).status, 201u);
  Call c;
  c.authorization = std::string("Bearer ") + kToken;
  c.target = "/ready";
  EXPECT_EQ(send(port_, c).status, 200u);
  c.target = "/metrics";
  Reply r = send(port_, c);
  ASSERT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find(R"(courier_messages_stored_total{listener="fhir-test",type="FHIR^Patient"} 1)"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("courier_ack_latency_seconds_count{listener=\"fhir-test\"} 1"), std::string::npos);
  EXPECT_NE(r.body.find("courier_open_connections{listener=\"fhir-test\"}"), std::string::npos);
}

// `courier serve` with the default config: the first run writes a development token, logs
// it did, and the HTTPS listener accepts it (and only it).
TEST(HttpServeProcessTest, FirstRunWritesADevelopmentTokenThatWorks) {
  const fs::path dir = makeTempDir("http-firstrun");
  const fs::path data = dir / "var";
  ::setenv("COURIER_MLLP_PORT", "0", 1);
  ::setenv("COURIER_HTTP_PORT", "0", 1);
  ServeProcess serve = startServe(fs::path(COURIER_SOURCE_DIR) / "deploy/courier.yaml", data, dir / "serve.log");
  ::unsetenv("COURIER_MLLP_PORT");
  ::unsetenv("COURIER_HTTP_PORT");
  ASSERT_NE(serve.port, 0) << "see " << (dir / "serve.log");
  std::uint16_t port = 0;
  {
    std::ifstream in(data / "courier.ports");
    std::string name;
    int p = 0;
    while (in >> name >> p) {
      if (name == "fhir-main") port = static_cast<std::uint16_t>(p);
    }
  }
  ASSERT_NE(port, 0);
  std::string token;
  {
    std::ifstream in(data / "dev-token");
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] != '#') token = line;
    }
  }
  ASSERT_EQ(token.size(), 64u);
  EXPECT_EQ(fs::status(data / "dev-token").permissions() & fs::perms::others_read, fs::perms::none);
  Call c;
  c.target = "/fhir/metadata";
  c.authorization = "Bearer " + token;
  c.ca_file = data / "certs/ca.crt";  // the CA made on first run
  Reply r = send(port, c);
  EXPECT_EQ(r.status, 200u) << r.error;
  // /metrics carries the store's own counters too (serve adds them to the registry).
  c.target = "/metrics";
  Reply m = send(port, c);
  EXPECT_EQ(m.status, 200u) << m.error;
  EXPECT_NE(m.body.find("\ncourier_store_commits_total "), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("\ncourier_store_wal_restarts_total "), std::string::npos);
  c.target = "/fhir/metadata";
  c.authorization = "Bearer " + std::string(64, '0');
  EXPECT_EQ(send(port, c).status, 401u);
  serve.child->signal(SIGTERM);
  auto status = serve.child->wait(std::chrono::seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  std::ifstream log(dir / "serve.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("development bearer token"), std::string::npos);
  EXPECT_EQ(text.find(token), std::string::npos);  // the token itself is never logged
}

}  // namespace
}  // namespace courier::testing
