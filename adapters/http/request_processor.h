// RequestProcessor: what the HTTPS listener does with one request, without I/O (the
// FrameProcessor of the MLLP adapter, for FHIR REST): route the target, authenticate
// (bearer token or client certificate), check method and content type, validate the FHIR
// JSON body structurally, and build the InboundMessage for the store. Every refusal is a
// ready Response carrying a FHIR OperationOutcome with the right status.
//
// Validation is structural (engine/record/from_fhir is not in yet): well-formed JSON, a
// resourceType matching the URL, FHIR ids, no null/empty values, the elements R4 requires
// for the supported types, Bundle.type and entries, and for $process-message a message
// Bundle starting with a MessageHeader. A failure names the element in `expression`
// (`Bundle.entry[1].resource.status`). Messages carry no PHI: diagnostics say what is
// wrong and where, never the value.
//
// Thread-safety: const methods only after construction; share freely.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/http/token_file.h"
#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/store/message_store.h"

namespace courier::http {

struct Response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/fhir+json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra: Allow, WWW-Authenticate
};

// A FHIR OperationOutcome with one issue (`expression` omitted when empty).
std::string operationOutcome(std::string_view severity, std::string_view code, std::string_view diagnostics,
                             std::string_view expression = {});
Response errorResponse(unsigned status, std::string_view code, std::string_view diagnostics,
                       std::string_view expression = {});

enum class Route {
  kHealth, kReady, kMetrics, kMetadata, kBundle, kProcessMessage, kResource,
  kSubscriptionTopic,  // GET /fhir/SubscriptionTopic
  kSubscription,       // /fhir/Subscription[/{id}[/$status|/$events]] (subscriptions::SubscriptionApi)
  kNotFound
};

struct Target {
  Route route = Route::kNotFound;
  std::string type;       // kResource: the resource type from the path
  std::string id;         // kResource, kSubscription: the id from the path, when given
  std::string operation;  // kSubscription: "$status" or "$events", when given
  std::string query;      // after '?', without it (kSubscription's $events reads it)
};
Target parseTarget(std::string_view target);

// The value of `name` in a query string ("a=1&b=2"), percent-decoding not needed for the
// numbers it is used for; nullopt when absent.
std::optional<std::string> queryParam(std::string_view query, std::string_view name);

// The resource types accepted at /fhir/{type}.
const std::vector<std::string_view>& supportedResourceTypes();

// What a request with a body becomes: a message for the store and the status to answer
// once it is durable.
struct Submission {
  store::InboundMessage message;  // raw, type, trigger, control id (dedup), facility
  unsigned success_status = 201;
  std::string type_label;         // "FHIR^Patient", for metrics
};

class RequestProcessor {
 public:
  RequestProcessor(const config::ListenerConfig& config, TokenFile tokens);

  // Who is asking: the identity, or a 401/403 Response. `authorization` is the header
  // value (empty when absent); `cert_names` the verified client certificate's names.
  [[nodiscard]] Result<std::string, Response> authenticate(std::string_view authorization,
                                                           const std::vector<std::string>& cert_names) const;

  // Method/route check before the body is read: 404, 405 (with Allow), 415. nullopt: go on.
  std::optional<Response> checkRequest(std::string_view method, const Target& target,
                                       std::string_view content_type) const;

  // Validates a POST/PUT body for kBundle, kProcessMessage or kResource.
  [[nodiscard]] Result<Submission, Response> prepare(std::string_view method, const Target& target,
                                                     std::string body, std::string_view identity,
                                                     store::TimePoint received_at) const;

  // GET /fhir/metadata.
  const std::string& capabilityStatement() const { return capability_; }

 private:
  const config::ListenerConfig& config_;
  TokenFile tokens_;
  std::string capability_;
};

}  // namespace courier::http
