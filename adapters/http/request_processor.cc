#include "adapters/http/request_processor.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>

#include <openssl/rand.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace courier::http {

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using Value = rapidjson::Value;

void str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
void key(Writer& w, std::string_view s) { w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

// Elements FHIR R4 requires (min 1) on the resource types Courier accepts. A choice
// element ends in "[x]" and is satisfied by any "<name><Type>".
struct Required {
  std::string_view type;
  std::vector<std::string_view> elements;
};
const std::vector<Required>& requiredElements() {
  static const std::vector<Required> kTable = {
      {"Patient", {}},
      {"Encounter", {"status", "class"}},
      {"Condition", {"subject"}},
      {"Procedure", {"status", "subject"}},
      {"Observation", {"status", "code"}},
      {"Immunization", {"status", "vaccineCode", "patient", "occurrence[x]"}},
      {"Claim", {"status", "type", "use", "patient", "created", "provider", "priority", "insurance"}},
      {"Coverage", {"status", "beneficiary", "payor"}},
      {"ChargeItem", {"status", "code", "subject"}},
      {"DocumentReference", {"status", "content"}},
      {"MessageHeader", {"event[x]", "source"}},
      {"Bundle", {"type"}},
  };
  return kTable;
}

bool isFhirId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

bool isResourceTypeName(std::string_view s) {
  if (s.empty() || !std::isupper(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
}

struct Invalid {
  unsigned status;
  std::string code;  // OperationOutcome issue type
  std::string message;
  std::string expression;
};

std::string sv(const Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

const Value* member(const Value& obj, std::string_view name) {
  auto it = obj.FindMember(Value(rapidjson::StringRef(name.data(), name.size())));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

// FHIR JSON never holds null, "", [] or {} (R4 JSON §2.6.2). Walks every value.
std::optional<Invalid> checkNoEmpty(const Value& v, const std::string& path) {
  if (v.IsNull()) return Invalid{400, "structure", "null is not allowed in FHIR JSON", path};
  if (v.IsString() && v.GetStringLength() == 0) return Invalid{400, "structure", "empty strings are not allowed", path};
  if (v.IsArray()) {
    if (v.Empty()) return Invalid{400, "structure", "empty arrays are not allowed", path};
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      // Arrays of primitives may hold null to align with their "_name" extensions.
      if (v[i].IsNull()) continue;
      if (auto e = checkNoEmpty(v[i], path + "[" + std::to_string(i) + "]")) return e;
    }
  }
  if (v.IsObject()) {
    if (v.MemberCount() == 0) return Invalid{400, "structure", "empty objects are not allowed", path};
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (auto e = checkNoEmpty(it->value, path + "." + sv(it->name))) return e;
    }
  }
  return std::nullopt;
}

// One resource object at `path` (e.g. "Patient" or "Bundle.entry[2].resource").
std::optional<Invalid> checkResource(const Value& r, const std::string& path, std::string* type_out) {
  if (!r.IsObject()) return Invalid{400, "structure", "a resource must be a JSON object", path};
  const Value* rt = member(r, "resourceType");
  if (rt == nullptr) return Invalid{400, "required", "resourceType is missing", path + ".resourceType"};
  if (!rt->IsString() || !isResourceTypeName(sv(*rt))) {
    return Invalid{400, "value", "resourceType must name a FHIR resource type", path + ".resourceType"};
  }
  const std::string type = sv(*rt);
  if (type_out) *type_out = type;
  // Paths inside a top-level resource start with its type, as FHIRPath does.
  const std::string base = path.find('.') == std::string::npos && path == type ? type : path;
  if (const Value* id = member(r, "id")) {
    if (!id->IsString() || !isFhirId(sv(*id))) {
      return Invalid{400, "value", "id must be 1 to 64 letters, digits, '-' or '.'", base + ".id"};
    }
  }
  for (const auto& req : requiredElements()) {
    if (req.type != type) continue;
    for (std::string_view el : req.elements) {
      bool found = false;
      if (el.size() > 3 && el.substr(el.size() - 3) == "[x]") {
        std::string_view stem = el.substr(0, el.size() - 3);
        for (auto it = r.MemberBegin(); it != r.MemberEnd() && !found; ++it) {
          std::string_view n(it->name.GetString(), it->name.GetStringLength());
          found = n.size() > stem.size() && n.substr(0, stem.size()) == stem &&
                  std::isupper(static_cast<unsigned char>(n[stem.size()]));
        }
      } else {
        found = member(r, el) != nullptr;
      }
      if (!found) {
        return Invalid{400, "required", type + "." + std::string(el) + " is required (FHIR R4)",
                       base + "." + std::string(el)};
      }
    }
  }
  for (auto it = r.MemberBegin(); it != r.MemberEnd(); ++it) {
    if (auto e = checkNoEmpty(it->value, base + "." + sv(it->name))) return e;
  }
  // Contained resources are resources too.
  if (const Value* contained = member(r, "contained"); contained && contained->IsArray()) {
    for (rapidjson::SizeType i = 0; i < contained->Size(); ++i) {
      if (auto e = checkResource((*contained)[i], base + ".contained[" + std::to_string(i) + "]", nullptr)) return e;
    }
  }
  return std::nullopt;
}

constexpr std::array<std::string_view, 9> kBundleTypes = {
    "document", "message", "transaction", "transaction-response", "batch", "batch-response",
    "history", "searchset", "collection"};
constexpr std::array<std::string_view, 4> kAcceptedBundleTypes = {"transaction", "batch", "message", "collection"};

std::optional<Invalid> checkBundle(const Value& b) {
  const Value* type = member(b, "type");
  if (!type->IsString() ||
      std::find(kBundleTypes.begin(), kBundleTypes.end(), sv(*type)) == kBundleTypes.end()) {
    return Invalid{400, "value", "Bundle.type is not a Bundle type code", "Bundle.type"};
  }
  const std::string t = sv(*type);
  if (std::find(kAcceptedBundleTypes.begin(), kAcceptedBundleTypes.end(), t) == kAcceptedBundleTypes.end()) {
    return Invalid{422, "not-supported", "Courier accepts transaction, batch, message and collection Bundles",
                   "Bundle.type"};
  }
  const Value* entries = member(b, "entry");
  if (entries == nullptr) return std::nullopt;
  if (!entries->IsArray()) return Invalid{400, "structure", "Bundle.entry must be an array", "Bundle.entry"};
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    const std::string ep = "Bundle.entry[" + std::to_string(i) + "]";
    const Value& e = (*entries)[i];
    if (!e.IsObject()) return Invalid{400, "structure", "a Bundle entry must be an object", ep};
    if (t == "transaction" || t == "batch") continue;  // entry by entry: planEntry()
    const Value* res = member(e, "resource");
    if (res == nullptr) return Invalid{400, "required", "this entry has no resource", ep + ".resource"};
    if (auto err = checkResource(*res, ep + ".resource", nullptr)) return err;
  }
  return std::nullopt;
}

bool supportedType(std::string_view type) {
  const auto& types = supportedResourceTypes();
  return std::find(types.begin(), types.end(), type) != types.end();
}

// A new logical id: a random (version 4) UUID, from OpenSSL's CSPRNG.
std::optional<std::string> newResourceId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) return std::nullopt;
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

// One entry of a transaction or batch: what Courier does with it (POST or PUT of a
// supported type, a valid resource matching the URL), or why not. `ref` receives the
// resource to index (its id is empty for a create; the caller assigns it).
std::optional<Invalid> planEntry(const Value& e, const std::string& ep, store::ResourceRef& ref, bool& create) {
  const Value* req = member(e, "request");
  if (req == nullptr || !req->IsObject()) {
    return Invalid{400, "required", "transaction and batch entries need a request", ep + ".request"};
  }
  const Value* method = member(*req, "method");
  if (method == nullptr || !method->IsString()) {
    return Invalid{400, "required", "request.method is required", ep + ".request.method"};
  }
  const Value* url = member(*req, "url");
  if (url == nullptr || !url->IsString()) {
    return Invalid{400, "required", "request.url is required", ep + ".request.url"};
  }
  const std::string m = sv(*method);
  if (m != "POST" && m != "PUT") {
    return Invalid{422, "not-supported", "Courier takes POST (create) and PUT (update) entries only",
                   ep + ".request.method"};
  }
  create = m == "POST";
  std::string_view u(url->GetString(), url->GetStringLength());
  if (u.find('?') != std::string_view::npos) {
    return Invalid{422, "not-supported", "conditional requests are not supported", ep + ".request.url"};
  }
  const std::size_t slash = u.find('/');
  std::string_view type = u.substr(0, slash);
  std::string_view id = slash == std::string_view::npos ? std::string_view() : u.substr(slash + 1);
  if (!isResourceTypeName(type)) {
    return Invalid{400, "value", "request.url must be relative: {type} for POST, {type}/{id} for PUT",
                   ep + ".request.url"};
  }
  if (!supportedType(type)) {
    return Invalid{422, "not-supported", "Courier does not accept this resource type", ep + ".request.url"};
  }
  if (create ? slash != std::string_view::npos : !isFhirId(id)) {
    return Invalid{400, "value",
                   create ? "a POST entry's request.url is the type alone" : "a PUT entry's request.url is {type}/{id}",
                   ep + ".request.url"};
  }
  const Value* res = member(e, "resource");
  if (res == nullptr) return Invalid{400, "required", "a POST or PUT entry needs a resource", ep + ".resource"};
  std::string rtype;
  if (auto err = checkResource(*res, ep + ".resource", &rtype)) return err;
  if (rtype != type) {
    return Invalid{400, "invalid", "resourceType does not match request.url", ep + ".resource.resourceType"};
  }
  if (!create) {
    const Value* rid = member(*res, "id");
    if (rid == nullptr || sv(*rid) != id) {
      return Invalid{400, "invalid", "the resource's id must equal the id in request.url", ep + ".resource.id"};
    }
  }
  ref.type = std::string(type);
  ref.id = std::string(id);
  return std::nullopt;
}

const char* reasonPhrase(unsigned status) {
  switch (status) {
    case 200: return "200 OK";
    case 201: return "201 Created";
    case 400: return "400 Bad Request";
    case 422: return "422 Unprocessable Entity";
    default: return "500 Internal Server Error";
  }
}

// Copies one resource of a stored message through RapidJSON's SAX reader: the root
// (entry -1) or Bundle.entry[entry].resource, with `id` and meta.versionId/lastUpdated set
// and everything else as stored. Numbers are copied as their text (kParseNumbersAsStrings
// + RawValue), so 1.50 stays 1.50.
class ResourceCopier : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ResourceCopier> {
 public:
  ResourceCopier(Writer& w, int entry, std::string id, std::string version, std::string last_updated)
      : w_(w), entry_(entry), id_(std::move(id)), version_(std::move(version)), updated_(std::move(last_updated)) {}

  bool found() const { return done_; }

  bool Null() { return value([&] { return w_.Null(); }); }
  bool Bool(bool b) { return value([&] { return w_.Bool(b); }); }
  bool Int(int i) { return value([&] { return w_.Int(i); }); }
  bool Uint(unsigned u) { return value([&] { return w_.Uint(u); }); }
  bool Int64(std::int64_t i) { return value([&] { return w_.Int64(i); }); }
  bool Uint64(std::uint64_t u) { return value([&] { return w_.Uint64(u); }); }
  bool Double(double d) { return value([&] { return w_.Double(d); }); }
  // Writer::RawNumber quotes (RapidJSON 1.1); RawValue writes the digits as they came.
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return value([&] { return w_.RawValue(s, n, rapidjson::kNumberType); });
  }
  bool String(const char* s, rapidjson::SizeType n, bool) { return value([&] { return w_.String(s, n); }); }

  bool Key(const char* s, rapidjson::SizeType n, bool) {
    Frame& f = stack_.back();
    f.key.assign(s, n);
    if (skip_ > 0 || !copying()) return true;
    const std::size_t rel = stack_.size() - target_depth_;  // 0: a member of the resource
    if (rel == 0 && (f.key == "id" || f.key == "_id")) return skipNext();
    if (rel == 1 && f.meta && (f.key == "versionId" || f.key == "lastUpdated" || f.key == "_versionId" ||
                                 f.key == "_lastUpdated")) {
      return skipNext();
    }
    return w_.Key(s, n);
  }

  bool StartObject() { return start(false); }
  bool StartArray() { return start(true); }
  bool EndObject(rapidjson::SizeType) { return end(); }
  bool EndArray(rapidjson::SizeType) { return end(); }

 private:
  struct Frame {
    explicit Frame(bool is_array) : array(is_array) {}
    bool array = false;
    std::string key;   // objects: the current member's name
    int index = -1;    // arrays: the current element's index
    bool meta = false;  // this object is the resource's meta
  };

  bool copying() const { return target_depth_ > 0 && !done_; }

  bool skipNext() {
    skip_next_ = true;
    return true;
  }

  // Before any value: advance the array index of the enclosing frame.
  void advance() {
    if (!stack_.empty() && stack_.back().array) ++stack_.back().index;
  }

  template <typename F>
  bool value(F&& write) {
    advance();
    if (skip_ > 0) return true;
    if (skip_next_) {
      skip_next_ = false;
      return true;
    }
    return copying() ? write() : true;
  }

  // Whether a container starting now (stack_ holds its parents) is the target resource.
  bool isTarget() const {
    if (entry_ < 0) return stack_.empty();
    return stack_.size() == 3 && stack_[0].key == "entry" && stack_[1].array && stack_[1].index == entry_ &&
           stack_[2].key == "resource";
  }

  bool start(bool array) {
    advance();
    if (skip_ > 0 || skip_next_) {
      skip_next_ = false;
      ++skip_;
      stack_.emplace_back(array);
      return true;
    }
    if (!copying() && !done_ && !array && isTarget()) {
      stack_.emplace_back(false);
      target_depth_ = stack_.size();
      return w_.StartObject();
    }
    const bool meta = copying() && !array && stack_.size() == target_depth_ && stack_.back().key == "meta";
    stack_.emplace_back(array);
    stack_.back().meta = meta;
    if (meta) saw_meta_ = true;
    if (!copying()) return true;
    return array ? w_.StartArray() : w_.StartObject();
  }

  bool end() {
    const bool was_array = stack_.back().array, was_meta = stack_.back().meta;
    stack_.pop_back();
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    if (!copying()) return true;
    if (was_meta) {
      writeVersion();
      return w_.EndObject();
    }
    if (stack_.size() + 1 == target_depth_) {  // the resource ends
      key(w_, "id");
      str(w_, id_);
      if (!saw_meta_) {
        key(w_, "meta");
        w_.StartObject();
        writeVersion();
        w_.EndObject();
      }
      done_ = true;
      return w_.EndObject();
    }
    return was_array ? w_.EndArray() : w_.EndObject();
  }

  void writeVersion() {
    key(w_, "versionId");
    str(w_, version_);
    key(w_, "lastUpdated");
    str(w_, updated_);
  }

  Writer& w_;
  const int entry_;
  const std::string id_, version_, updated_;
  std::vector<Frame> stack_;
  std::size_t target_depth_ = 0;  // stack size inside the resource object; 0: not reached
  int skip_ = 0;                  // depth of a skipped container
  bool skip_next_ = false;        // the next value is skipped (its key was)
  bool saw_meta_ = false;
  bool done_ = false;
};

Response fromInvalid(const Invalid& inv) { return errorResponse(inv.status, inv.code, inv.message, inv.expression); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string buildCapabilityStatement(const config::ListenerConfig& config, bool reads) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  key(w, "resourceType"); str(w, "CapabilityStatement");
  key(w, "status"); str(w, "active");
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  key(w, "date"); str(w, date);
  key(w, "publisher"); str(w, "Courier");
  key(w, "kind"); str(w, "instance");
  key(w, "software"); w.StartObject(); key(w, "name"); str(w, "Courier"); key(w, "version"); str(w, "0.1.0"); w.EndObject();
  key(w, "implementation"); w.StartObject();
  key(w, "description"); str(w, "Courier integration engine, FHIR REST listener " + config.name +
                                    ": accepts resources and Bundles and stores them durably before answering");
  w.EndObject();
  key(w, "fhirVersion"); str(w, "4.0.1");
  key(w, "format"); w.StartArray(); str(w, "application/fhir+json"); str(w, "json"); w.EndArray();
  key(w, "rest"); w.StartArray(); w.StartObject();
  key(w, "mode"); str(w, "server");
  key(w, "documentation");
  str(w, reads ? "Every accepted body is stored durably (the answer comes after the commit) and processed "
                 "asynchronously. read and vread return a resource as Courier last stored it (from a create, an "
                 "update or a Bundle entry); the version id is the id of the stored message. No search, history "
                 "listing or delete."
               : "Write-only: every accepted body is stored durably (the answer comes after the commit) and "
                 "processed asynchronously; this store keeps no resource index, so there is no read or search.");
  key(w, "security"); w.StartObject();
  key(w, "cors"); w.Bool(false);
  key(w, "service"); w.StartArray(); w.StartObject();
  key(w, "coding"); w.StartArray(); w.StartObject();
  key(w, "system"); str(w, "http://terminology.hl7.org/CodeSystem/restful-security-service");
  key(w, "code"); str(w, "Certificates");
  w.EndObject(); w.EndArray();
  w.EndObject(); w.EndArray();
  key(w, "description"); str(w, "TLS 1.2/1.3. Clients authenticate with a bearer token (Authorization: Bearer) from "
                                "the listener's token file, or with a client certificate from the configured CA.");
  w.EndObject();
  key(w, "resource"); w.StartArray();
  for (std::string_view type : supportedResourceTypes()) {
    w.StartObject();
    key(w, "type"); str(w, type);
    key(w, "interaction"); w.StartArray();
    for (std::string_view code : {"read", "vread", "update", "create"}) {
      if (!reads && (code == "read" || code == "vread")) continue;
      w.StartObject(); key(w, "code"); str(w, code); w.EndObject();
    }
    w.EndArray();
    key(w, "versioning"); str(w, reads ? "versioned" : "no-version");
    key(w, "readHistory"); w.Bool(reads);
    key(w, "updateCreate"); w.Bool(true);
    w.EndObject();
  }
  w.EndArray();
  key(w, "interaction"); w.StartArray();
  for (std::string_view code : {"transaction", "batch"}) {
    w.StartObject(); key(w, "code"); str(w, code);
    key(w, "documentation");
    str(w, code == "transaction"
               ? "POST /fhir: POST and PUT entries of the supported types; all or nothing (400/422 for the whole "
                 "Bundle), stored as one message; answered with a transaction-response Bundle"
               : "POST /fhir: POST and PUT entries of the supported types; each entry succeeds or fails on its "
                 "own (response.outcome); the Bundle is stored as one message and answered with a batch-response "
                 "Bundle");
    w.EndObject();
  }
  w.EndArray();
  key(w, "operation"); w.StartArray(); w.StartObject();
  key(w, "name"); str(w, "process-message");
  key(w, "definition"); str(w, "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message");
  key(w, "documentation"); str(w, "Deduplicated by Bundle.id (else MessageHeader.id) per MessageHeader.source.endpoint");
  w.EndObject(); w.EndArray();
  w.EndObject(); w.EndArray();
  w.EndObject();
  return sb.GetString();
}

}  // namespace

std::string operationOutcome(std::string_view severity, std::string_view code, std::string_view diagnostics,
                             std::string_view expression) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  key(w, "resourceType"); str(w, "OperationOutcome");
  key(w, "issue"); w.StartArray(); w.StartObject();
  key(w, "severity"); str(w, severity);
  key(w, "code"); str(w, code);
  if (!diagnostics.empty()) { key(w, "diagnostics"); str(w, diagnostics); }
  if (!expression.empty()) {
    key(w, "expression"); w.StartArray(); str(w, expression); w.EndArray();
  }
  w.EndObject(); w.EndArray();
  w.EndObject();
  return sb.GetString();
}

Response errorResponse(unsigned status, std::string_view code, std::string_view diagnostics,
                       std::string_view expression) {
  Response r;
  r.status = status;
  r.body = operationOutcome(status >= 500 ? "fatal" : "error", code, diagnostics, expression);
  return r;
}

const std::vector<std::string_view>& supportedResourceTypes() {
  static const std::vector<std::string_view> kTypes = {"Patient", "Encounter", "Condition", "Procedure",
                                                       "Observation", "Immunization", "Claim", "Coverage",
                                                       "ChargeItem", "DocumentReference"};
  return kTypes;
}

std::optional<std::string> queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

Target parseTarget(std::string_view target) {
  Target t;
  if (std::size_t q = target.find('?'); q != std::string_view::npos) {
    t.query = std::string(target.substr(q + 1));
    target = target.substr(0, q);
  }
  if (target.size() > 1 && target.back() == '/') target.remove_suffix(1);
  if (target == "/fhir/SubscriptionTopic") {
    t.route = Route::kSubscriptionTopic;
    return t;
  }
  if (target == "/fhir/Subscription" || target.substr(0, 19) == "/fhir/Subscription/") {
    std::string_view rest = target.size() > 19 ? target.substr(19) : std::string_view();
    std::size_t slash = rest.find('/');
    std::string_view id = rest.substr(0, slash);
    std::string_view op = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (op.substr(0, 3) == "%24") op = op.substr(3), t.operation = "$";
    else if (!op.empty() && op.front() == '$') op.remove_prefix(1), t.operation = "$";
    else if (!op.empty()) return t;  // not found
    if (!t.operation.empty()) {
      if (op != "status" && op != "events") return Target{};
      t.operation += op;
    }
    if (!id.empty() && !isFhirId(id)) return Target{};
    t.route = Route::kSubscription;
    t.id = std::string(id);
    return t;
  }
  if (target == "/health") t.route = Route::kHealth;
  else if (target == "/ready") t.route = Route::kReady;
  else if (target == "/metrics") t.route = Route::kMetrics;
  else if (target == "/fhir/metadata") t.route = Route::kMetadata;
  else if (target == "/fhir") t.route = Route::kBundle;
  else if (target == "/fhir/$process-message" || target == "/fhir/%24process-message") t.route = Route::kProcessMessage;
  else if (target.substr(0, 6) == "/fhir/") {
    // {type}, {type}/{id} or {type}/{id}/_history/{vid}
    std::string_view rest = target.substr(6);
    std::size_t slash = rest.find('/');
    std::string_view type = rest.substr(0, slash);
    std::string_view id = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    std::string_view version;
    if (std::size_t h = id.find('/'); h != std::string_view::npos) {
      constexpr std::string_view kHistory = "/_history/";
      if (id.substr(h, kHistory.size()) != kHistory) return t;
      version = id.substr(h + kHistory.size());
      id = id.substr(0, h);
      if (!isFhirId(version)) return t;
    }
    if (supportedType(type) && (slash == std::string_view::npos || isFhirId(id))) {
      t.route = Route::kResource;
      t.type = std::string(type);
      t.id = std::string(id);
      t.version = std::string(version);
    }
  }
  return t;
}

RequestProcessor::RequestProcessor(const config::ListenerConfig& config, TokenFile tokens, bool reads)
    : config_(config), tokens_(std::move(tokens)), reads_(reads), capability_(buildCapabilityStatement(config, reads)) {}

Result<std::string, Response> RequestProcessor::authenticate(std::string_view authorization,
                                                            const std::vector<std::string>& cert_names) const {
  auto unauthorized = [](std::string_view why, bool bad_token) {
    Response r = errorResponse(401, "login", why);
    r.headers.emplace_back("WWW-Authenticate",
                           bad_token ? "Bearer realm=\"courier\", error=\"invalid_token\"" : "Bearer realm=\"courier\"");
    return Unexpected(std::move(r));
  };
  if (!authorization.empty()) {
    constexpr std::string_view kBearer = "bearer ";
    if (authorization.size() <= kBearer.size() || lower(authorization.substr(0, kBearer.size())) != kBearer) {
      return unauthorized("the Authorization header must be 'Bearer <token>'", true);
    }
    std::string_view token = authorization.substr(kBearer.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (auto id = tokens_.identityFor(token)) return *id;
    return unauthorized("the bearer token is not valid for this listener", true);
  }
  if (!cert_names.empty()) {
    if (config_.allowed_clients.empty()) return cert_names.front();
    for (const auto& name : cert_names) {
      for (const auto& c : config_.allowed_clients) {
        if (c.identity == name) return name;
      }
    }
    return Unexpected(errorResponse(403, "forbidden", "this client certificate is not allowed on this listener"));
  }
  return unauthorized("authentication required: a bearer token or a client certificate", false);
}

std::optional<Response> RequestProcessor::checkRequest(std::string_view method, const Target& target,
                                                       std::string_view content_type) const {
  auto notAllowed = [](std::string_view allow) {
    Response r = errorResponse(405, "not-supported", "this method is not supported here");
    r.headers.emplace_back("Allow", std::string(allow));
    return r;
  };
  switch (target.route) {
    case Route::kNotFound:
      return errorResponse(404, "not-found", "no such endpoint or resource type here");
    case Route::kHealth:
    case Route::kReady:
    case Route::kMetrics:
    case Route::kMetadata:
      if (method != "GET" && method != "HEAD") return notAllowed("GET, HEAD");
      return std::nullopt;
    case Route::kBundle:
    case Route::kProcessMessage:
      if (method != "POST") return notAllowed("POST");
      break;
    case Route::kResource:
      if (target.id.empty()) {
        if (method != "POST") return notAllowed("POST");
        break;
      }
      if (!target.version.empty()) {
        if (reads_ && (method == "GET" || method == "HEAD")) return std::nullopt;
        return notAllowed(reads_ ? "GET, HEAD" : "");
      }
      if (reads_ && (method == "GET" || method == "HEAD")) return std::nullopt;
      if (method != "PUT") return notAllowed(reads_ ? "GET, HEAD, PUT" : "PUT");
      break;
    case Route::kSubscriptionTopic:
      if (method != "GET" && method != "HEAD") return notAllowed("GET, HEAD");
      return std::nullopt;
    case Route::kSubscription:
      if (target.id.empty()) {
        if (method != "POST") return notAllowed("POST");
      } else if (!target.operation.empty()) {
        if (method != "GET" && method != "HEAD") return notAllowed("GET, HEAD");
        return std::nullopt;
      } else if (method == "GET" || method == "HEAD" || method == "DELETE") {
        return std::nullopt;
      } else if (method != "PUT") {
        return notAllowed("GET, HEAD, PUT, DELETE");
      }
      break;
  }
  std::string media = lower(content_type.substr(0, content_type.find(';')));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  if (media != "application/fhir+json" && media != "application/json") {
    return errorResponse(415, "not-supported", "send application/fhir+json (or application/json)");
  }
  return std::nullopt;
}

Result<Submission, Response> RequestProcessor::prepare(std::string_view method, const Target& target, std::string body,
                                                       std::string_view identity, store::TimePoint received_at) const {
  rapidjson::Document doc;
  // Iterative parsing: deep nesting cannot exhaust the stack.
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return Unexpected(errorResponse(400, "invalid",
                                    std::string("invalid JSON at byte ") + std::to_string(doc.GetErrorOffset()) +
                                        ": " + rapidjson::GetParseError_En(doc.GetParseError()),
                                    "$"));
  }
  const bool bundle_route = target.route == Route::kBundle || target.route == Route::kProcessMessage;
  const std::string expected = bundle_route ? "Bundle" : target.type;
  std::string type;
  if (!doc.IsObject()) return Unexpected(errorResponse(400, "structure", "the body must be a JSON object", "$"));
  if (const Value* rt = member(doc, "resourceType"); rt && rt->IsString() && sv(*rt) != expected) {
    return Unexpected(errorResponse(400, "invalid", "resourceType does not match the URL (" + expected + ")",
                                    "resourceType"));
  }
  if (auto inv = checkResource(doc, expected, &type)) return Unexpected(fromInvalid(*inv));

  Submission s;
  s.message.raw = std::move(body);  // doc holds its own copies of the strings
  s.message.listener = config_.name;
  s.message.peer_identity = std::string(identity);
  s.message.received_at = received_at;
  s.message.message_type = "FHIR";
  s.message.trigger = type;
  s.type_label = "FHIR^" + type;
  s.success_status = 201;
  if (bundle_route) {
    if (auto inv = checkBundle(doc)) return Unexpected(fromInvalid(*inv));
  }
  if (target.route == Route::kResource && !target.id.empty()) {
    const Value* id = member(doc, "id");
    if (id == nullptr || sv(*id) != target.id) {
      return Unexpected(errorResponse(400, "invalid", "the body's id must equal the id in the URL", type + ".id"));
    }
    s.success_status = 200;
    (void)method;
  }
  if (target.route == Route::kProcessMessage) {
    if (sv(*member(doc, "type")) != "message") {
      return Unexpected(errorResponse(422, "processing", "$process-message takes a Bundle of type 'message'",
                                      "Bundle.type"));
    }
    const Value* entries = member(doc, "entry");
    const Value* header = entries && entries->IsArray() && !entries->Empty() ? member((*entries)[0], "resource")
                                                                              : nullptr;
    const Value* hrt = header ? member(*header, "resourceType") : nullptr;
    if (hrt == nullptr || sv(*hrt) != "MessageHeader") {
      return Unexpected(errorResponse(422, "processing", "the first entry of a message Bundle must be its MessageHeader",
                                      "Bundle.entry[0].resource"));
    }
    const Value* source = member(*header, "source");
    const Value* endpoint = source && source->IsObject() ? member(*source, "endpoint") : nullptr;
    if (endpoint == nullptr || !endpoint->IsString()) {
      return Unexpected(errorResponse(400, "required", "MessageHeader.source.endpoint is required",
                                      "Bundle.entry[0].resource.source.endpoint"));
    }
    const Value* bid = member(doc, "id");
    const Value* hid = member(*header, "id");
    if (bid == nullptr && hid == nullptr) {
      return Unexpected(errorResponse(422, "processing",
                                      "a message needs Bundle.id or MessageHeader.id (it identifies the message for "
                                      "deduplication)",
                                      "Bundle.id"));
    }
    // Dedup key of the store: (sending_facility, control_id).
    s.message.sending_facility = sv(*endpoint);
    s.message.control_id = bid ? sv(*bid) : sv(*hid);
    s.success_status = 200;
  }
  s.received_at = received_at;
  if (auto refused = planResources(doc, target, type, s)) return Unexpected(std::move(*refused));
  s.resources = s.message.resources;
  return s;
}

std::optional<Response> RequestProcessor::planResources(const rapidjson::Document& doc, const Target& target,
                                                        const std::string& type, Submission& s) const {
  auto fresh = [] { return newResourceId(); };
  const Response no_id = errorResponse(503, "transient", "no resource id could be made; send it again");
  if (target.route == Route::kResource) {
    s.answer = Answer::kResource;
    s.create = target.id.empty();
    std::string id = target.id;
    if (s.create) {
      auto made = fresh();
      if (!made) return no_id;
      id = std::move(*made);
    }
    s.resource_type = type;
    s.resource_id = id;
    s.message.resources.push_back(store::ResourceRef{type, std::move(id), -1});
    return std::nullopt;
  }
  const Value* entries = member(doc, "entry");
  const std::string bundle_type = sv(*member(doc, "type"));
  const bool plan = target.route == Route::kBundle && (bundle_type == "transaction" || bundle_type == "batch");
  if (plan) {
    s.answer = Answer::kBundle;
    s.response_type = bundle_type + "-response";
    s.success_status = 200;
  }
  if (entries == nullptr) return std::nullopt;  // checkBundle: otherwise an array
  const bool transaction = bundle_type == "transaction";
  std::vector<std::string> seen;  // "type/id" of a transaction's updates
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    const Value& e = (*entries)[i];
    if (!plan) {
      // message/collection: whatever has an id is readable under it.
      const Value* res = member(e, "resource");
      const Value* rt = res ? member(*res, "resourceType") : nullptr;
      const Value* id = res ? member(*res, "id") : nullptr;
      if (rt && id && rt->IsString() && id->IsString() && supportedType(sv(*rt))) {
        s.message.resources.push_back(store::ResourceRef{sv(*rt), sv(*id), static_cast<std::int32_t>(i)});
      }
      continue;
    }
    const std::string ep = "Bundle.entry[" + std::to_string(i) + "]";
    store::ResourceRef ref;
    bool create = false;
    auto refused = planEntry(e, ep, ref, create);
    if (!refused && transaction && !create) {
      std::string key = ref.type + "/" + ref.id;
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        refused = Invalid{400, "invalid", "a transaction names the same resource twice", ep + ".request.url"};
      }
      seen.push_back(std::move(key));
    }
    if (refused) {
      if (transaction) return fromInvalid(*refused);  // all or nothing
      EntryPlan p;
      p.status = refused->status;
      p.outcome = operationOutcome("error", refused->code, refused->message, refused->expression);
      s.entries.push_back(std::move(p));
      continue;
    }
    if (create) {
      auto made = fresh();
      if (!made) return no_id;
      ref.id = std::move(*made);
    }
    ref.entry = static_cast<std::int32_t>(i);
    EntryPlan p;
    p.resource = static_cast<int>(s.message.resources.size());
    p.create = create;
    s.entries.push_back(std::move(p));
    s.message.resources.push_back(std::move(ref));
  }
  return std::nullopt;
}

std::string httpDate(store::TimePoint t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char out[64];
  std::strftime(out, sizeof out, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return out;
}

std::string fhirInstant(store::TimePoint t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char out[64];
  std::size_t n = std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(out + n, sizeof out - n, ".%03dZ", static_cast<int>(ms % 1000));
  return out;
}

Response storedResponse(const Submission& s, const store::StoreReceipt& receipt, std::string_view base) {
  Response resp;
  resp.status = s.success_status;
  resp.headers.emplace_back("X-Courier-Message-Id", std::to_string(receipt.id));
  if (s.answer == Answer::kOutcome || receipt.duplicate) {
    resp.body = operationOutcome("information", "informational",
                                 receipt.duplicate ? "already received; stored once as message " + std::to_string(receipt.id)
                                                   : "stored as message " + std::to_string(receipt.id));
    if (receipt.duplicate) resp.headers.emplace_back("X-Courier-Duplicate", "true");
    return resp;
  }
  const std::string vid = std::to_string(receipt.id);
  const std::string etag = "W/\"" + vid + "\"";
  // A store without a resource index cannot tell a created resource from an updated one.
  auto created = [&](std::size_t i, bool create) {
    if (create) return true;
    return i < receipt.resource_existed.size() && !receipt.resource_existed[i];
  };
  auto url = [&](const store::ResourceRef& r) { return std::string(base) + "/fhir/" + r.type + "/" + r.id; };
  if (s.answer == Answer::kResource) {
    const bool made = created(0, s.create);
    resp.status = made ? 201 : 200;
    resp.headers.emplace_back("Location", url(s.resources.at(0)) + "/_history/" + vid);
    resp.headers.emplace_back("ETag", etag);
    resp.headers.emplace_back("Last-Modified", httpDate(s.received_at));
    resp.body = operationOutcome("information", "informational",
                                 std::string(made ? "created" : "updated") + "; stored as message " + vid);
    return resp;
  }
  const std::string updated = fhirInstant(s.received_at);
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  key(w, "resourceType"); str(w, "Bundle");
  key(w, "type"); str(w, s.response_type);
  if (!s.entries.empty()) {
    key(w, "entry"); w.StartArray();
    for (const EntryPlan& p : s.entries) {
      w.StartObject();
      if (p.resource >= 0) {
        const auto i = static_cast<std::size_t>(p.resource);
        const store::ResourceRef& r = s.resources.at(i);
        key(w, "fullUrl"); str(w, url(r));
        key(w, "response"); w.StartObject();
        key(w, "status"); str(w, reasonPhrase(created(i, p.create) ? 201 : 200));
        key(w, "location"); str(w, url(r) + "/_history/" + vid);
        key(w, "etag"); str(w, etag);
        key(w, "lastModified"); str(w, updated);
        w.EndObject();
      } else {
        key(w, "response"); w.StartObject();
        key(w, "status"); str(w, reasonPhrase(p.status));
        key(w, "outcome"); w.RawValue(p.outcome.data(), p.outcome.size(), rapidjson::kObjectType);
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  resp.body = sb.GetString();
  return resp;
}

Response readResponse(const Target& target, const Result<store::ResourceVersion>& found) {
  if (!found) {
    if (found.error().code == ErrorCode::kNotFound) {
      return errorResponse(404, "not-found", target.version.empty() ? "no resource with this type and id"
                                                                    : "no such version of this resource");
    }
    Response r = errorResponse(503, "transient", "the store could not be read; try again later");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  const std::string vid = std::to_string(found->message_id);
  rapidjson::StringBuffer sb;
  Writer w(sb);
  ResourceCopier copier(w, found->entry, target.id, vid, fhirInstant(found->received_at));
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(found->raw.data(), found->raw.size());
  reader.Parse<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag>(ms, copier);
  if (reader.HasParseError() || !copier.found()) {
    return errorResponse(500, "exception", "the stored message does not hold this resource");
  }
  Response r;
  r.body = sb.GetString();
  r.headers.emplace_back("ETag", "W/\"" + vid + "\"");
  r.headers.emplace_back("Last-Modified", httpDate(found->received_at));
  return r;
}

}  // namespace courier::http
