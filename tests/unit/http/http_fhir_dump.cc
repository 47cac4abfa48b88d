// Prints every kind of JSON body the FHIR REST listener answers, one document a line, for
// tests/tools/validate_fhir_json.py (FHIR R4 schema): CapabilityStatements (with and
// without reads), OperationOutcomes (refusals, stored), transaction-response and
// batch-response Bundles (with a refused entry), and read/vread results out of a stored
// resource and out of a Bundle entry. Exit 1 when an expected answer is missing.
#include <cstdio>
#include <iostream>

#include "adapters/http/request_processor.h"

namespace courier::http {
namespace {

int failures = 0;

void print(const std::string& body) {
  if (body.empty() || body.find('\n') != std::string::npos) {
    std::cerr << "unexpected body: " << body << "\n";
    ++failures;
    return;
  }
  std::cout << body << "\n";
}

store::StoreReceipt receipt(store::MessageId id, std::vector<bool> existed) {
  store::StoreReceipt r;
  r.id = id;
  r.resource_existed = std::move(existed);
  return r;
}

int run() {
  config::ListenerConfig config;
  config.name = "fhir-dump";
  config.kind = config::ListenerKind::kHttp;
  RequestProcessor reads(config, TokenFile(), true), no_reads(config, TokenFile(), false);
  print(reads.capabilityStatement());
  print(no_reads.capabilityStatement());

  const auto now = store::TimePoint(std::chrono::microseconds(1'700'000'000'123'456));
  auto prepare = [&](const char* method, const char* target, std::string body) {
    return reads.prepare(method, parseTarget(target), std::move(body), "dump", now);
  };
  auto refused = [&](const char* method, const char* target, std::string body) {
    auto s = prepare(method, target, std::move(body));
    if (s) {
      std::cerr << "expected a refusal for " << target << "\n";
      ++failures;
      return;
    }
    print(s.error().body);
  };
  refused("POST", "/fhir/Observation", R"({"resourceType":"Observation","code":{"text":"x"}})");
  refused("POST", "/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[)"
                           R"({"request":{"method":"DELETE","url":"Patient/1"}}]})");
  print(reads.checkRequest("DELETE", parseTarget("/fhir/Patient/1"), "")->body);

  auto answered = [&](const char* method, const char* target, std::string body, const store::StoreReceipt& r) {
    auto s = prepare(method, target, std::move(body));
    if (!s) {
      std::cerr << "refused " << target << ": " << s.error().body << "\n";
      ++failures;
      return;
    }
    print(storedResponse(*s, r, "https://courier.example:8443").body);
  };
  answered("POST", "/fhir/Patient", R"({"resourceType":"Patient"})", receipt(1, {false}));
  answered("PUT", "/fhir/Patient/p1", R"({"resourceType":"Patient","id":"p1"})", receipt(2, {true}));
  answered("POST", "/fhir",
           R"({"resourceType":"Bundle","type":"transaction","entry":[)"
           R"({"fullUrl":"urn:uuid:7c1f","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},)"
           R"({"resource":{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},)"
           R"("subject":{"reference":"urn:uuid:7c1f"}},"request":{"method":"PUT","url":"Encounter/e1"}}]})",
           receipt(3, {false, true}));
  answered("POST", "/fhir",
           R"({"resourceType":"Bundle","type":"batch","entry":[)"
           R"({"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},)"
           R"({"resource":{"resourceType":"Observation","code":{"text":"x"}},"request":{"method":"POST","url":"Observation"}}]})",
           receipt(4, {false}));
  answered("POST", "/fhir/$process-message",
           R"({"resourceType":"Bundle","id":"m1","type":"message","entry":[{"resource":{"resourceType":"MessageHeader",)"
           R"("eventCoding":{"code":"x"},"source":{"endpoint":"https://s"}}}]})",
           receipt(5, {}));

  store::ResourceVersion v;
  v.message_id = 6;
  v.received_at = now;
  v.raw = R"({"resourceType":"Observation","id":"o","meta":{"profile":["http://example.org/p"]},"status":"final",)"
          R"("code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"}})";
  print(readResponse(parseTarget("/fhir/Observation/o"), v).body);
  v.entry = 0;
  v.raw = R"({"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient",)"
          R"("name":[{"family":"X"}]},"request":{"method":"POST","url":"Patient"}}]})";
  print(readResponse(parseTarget("/fhir/Patient/0b7e0cb5-7a59-4c45-9d33-2c3c9b1a0d2e/_history/6"), v).body);
  Result<store::ResourceVersion> missing = Unexpected(Error(ErrorCode::kNotFound, "no"));
  print(readResponse(parseTarget("/fhir/Patient/x"), missing).body);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace courier::http

int main() { return courier::http::run(); }
