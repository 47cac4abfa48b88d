// RequestProcessor: what the HTTPS listener does with one request, without I/O (the
// FrameProcessor of the MLLP adapter, for FHIR REST): route the target, authenticate
// (bearer token or client certificate), check method and content type, validate the FHIR
// JSON body structurally, and build the InboundMessage for the store. Every refusal is a
// ready Response carrying a FHIR OperationOutcome with the right status. Once the store
// answered, storedResponse() builds the answer (Location/ETag/Last-Modified, or a
// transaction-response / batch-response Bundle); readResponse() answers read and vread
// from what the store's resource index found.
//
// Ids: a create (POST /fhir/{type}, or a POST entry of a transaction/batch) gets a new
// random UUID as its logical id (a body's own id is ignored, as FHIR's create says); the
// store keeps it in its resource index, so it stays the same for every later read. The
// version id of a resource is the id of the stored message that carried it.
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

#include <rapidjson/fwd.h>

#include "adapters/http/token_file.h"
#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/store/message_store.h"
#include "engine/store/resource_index.h"

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
  std::string version;    // kResource: the {vid} of /{type}/{id}/_history/{vid}, when given
};
Target parseTarget(std::string_view target);

// The value of `name` in a query string ("a=1&b=2"), percent-decoding not needed for the
// numbers it is used for; nullopt when absent.
std::optional<std::string> queryParam(std::string_view query, std::string_view name);

// The resource types accepted at /fhir/{type}.
const std::vector<std::string_view>& supportedResourceTypes();

// One entry of a transaction or batch, in Bundle order: accepted (an index into
// message.resources) or, in a batch only, refused with its own status and OperationOutcome.
struct EntryPlan {
  int resource = -1;     // accepted: index into Submission::message.resources; refused: -1
  bool create = false;   // POST (always 201); PUT is 201 or 200 as the store says
  unsigned status = 0;   // refused: 400 or 422
  std::string outcome;   // refused: the OperationOutcome (JSON)
};

// What the answer to a durable submission is made of.
enum class Answer {
  kOutcome,   // an OperationOutcome (message/collection Bundles, $process-message)
  kResource,  // POST/PUT /fhir/{type}[/{id}]: 201/200 with Location, ETag, Last-Modified
  kBundle,    // transaction/batch: a transaction-response / batch-response Bundle
};

// What a request with a body becomes: a message for the store and what to answer once it
// is durable. The server keeps it (without the message, moved into the store) until then.
struct Submission {
  store::InboundMessage message;  // raw, type, trigger, control id (dedup), facility, resources
  unsigned success_status = 201;
  std::string type_label;         // "FHIR^Patient", for metrics
  Answer answer = Answer::kOutcome;
  bool create = false;            // kResource: a POST
  std::string resource_type;      // kResource: what message.resources[0] names
  std::string resource_id;
  std::string response_type;      // kBundle: "transaction-response" or "batch-response"
  std::vector<EntryPlan> entries; // kBundle: one per Bundle.entry, in order
  std::vector<store::ResourceRef> resources;  // a copy of message.resources, for the answer
  store::TimePoint received_at{};             // = message.received_at (Last-Modified)
};

// The answer once the store said the submission is durable. `base` is what Location URLs
// start with ("https://host:port", no trailing slash).
Response storedResponse(const Submission& s, const store::StoreReceipt& receipt, std::string_view base);

// The answer to GET /fhir/{type}/{id}[/_history/{vid}] from the resource index: the
// resource taken out of the stored message with `id` and meta.versionId/lastUpdated set
// (everything else exactly as stored, numbers digit for digit), ETag and Last-Modified;
// 404 OperationOutcome when not found, 503 when the store failed.
Response readResponse(const Target& target, const Result<store::ResourceVersion>& found);

// "Fri, 27 Nov 2026 10:39:35 GMT" (HTTP-date) and "2026-11-27T10:39:35.123Z" (FHIR instant,
// millisecond precision) of the same time.
std::string httpDate(store::TimePoint t);
std::string fhirInstant(store::TimePoint t);

class RequestProcessor {
 public:
  // `reads`: the store has a resource index, so read and vread are offered (GET on
  // /fhir/{type}/{id}[/_history/{vid}] and in the CapabilityStatement); else they are 405.
  RequestProcessor(const config::ListenerConfig& config, TokenFile tokens, bool reads = false);

  // Who is asking: the identity, or a 401/403 Response. `authorization` is the header
  // value (empty when absent); `cert_names` the verified client certificate's names.
  [[nodiscard]] Result<std::string, Response> authenticate(std::string_view authorization,
                                                           const std::vector<std::string>& cert_names) const;

  // Method/route check before the body is read: 404, 405 (with Allow), 415. nullopt: go on.
  std::optional<Response> checkRequest(std::string_view method, const Target& target,
                                       std::string_view content_type) const;

  // Validates a POST/PUT body for kBundle, kProcessMessage or kResource, and names the
  // resources it carries for the store's resource index (new ids for creates).
  [[nodiscard]] Result<Submission, Response> prepare(std::string_view method, const Target& target,
                                                     std::string body, std::string_view identity,
                                                     store::TimePoint received_at) const;

  // GET /fhir/metadata.
  const std::string& capabilityStatement() const { return capability_; }

 private:
  // After validation: the resources of the body (new ids for creates) and, for a
  // transaction/batch, each entry's plan. A refusal (a transaction entry, no id): the Response.
  std::optional<Response> planResources(const rapidjson::Document& doc, const Target& target,
                                        const std::string& type, Submission& s) const;

  const config::ListenerConfig& config_;
  TokenFile tokens_;
  bool reads_ = false;
  std::string capability_;
};

}  // namespace courier::http
