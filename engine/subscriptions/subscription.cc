#include "engine/subscriptions/subscription.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <charconv>

#include "engine/fhir/json.h"

namespace courier::subscriptions {
namespace {

using rapidjson::Value;

constexpr std::string_view kBackport = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/";
constexpr std::string_view kFilterCriteriaUrl =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria";
constexpr std::string_view kPayloadContentUrl =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content";
constexpr std::string_view kHeartbeatUrl =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period";
constexpr std::string_view kTimeoutUrl =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-timeout";
constexpr std::string_view kMaxCountUrl =
    "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count";

Unexpected<Error> invalid(std::string path, std::string_view what) {
  std::string message = path;
  message.append(": ").append(what);
  return Unexpected(Error(ErrorCode::kInvalidArgument, std::move(message), std::move(path)));
}

std::string_view view(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

std::string indexed(std::string_view base, std::size_t i) {
  return std::string(base).append("[").append(std::to_string(i)).append("]");
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string lowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding ('+' stays '+': filter values are not form-encoded).
bool percentDecode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hexDigit(in[i + 1]);
    int lo = hexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

bool isAlnum(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return false;
  return true;
}

bool validFhirId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.'))
      return false;
  return true;
}

std::optional<std::string> patientClassCode(std::string_view v) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"imp", "I"},  {"inpatient", "I"}, {"amb", "O"},   {"outpatient", "O"}, {"emer", "E"}, {"emergency", "E"},
      {"prenc", "P"}, {"preadmit", "P"},  {"recurring", "R"}, {"obstetrics", "B"}, {"obenc", "B"},
  };
  std::string l = lowerCase(v);
  for (const auto& [name, code] : kNames)
    if (l == name) return std::string(code);
  if (v.size() == 1) {
    char c = upper(v[0]);
    if (std::string_view("IOEPRBCNU").find(c) != std::string_view::npos) return std::string(1, c);
  }
  return std::nullopt;
}

Result<CodeTerm> parseCodeTerm(Topic topic, std::string_view value, const std::string& path) {
  const TopicInfo& info = topicInfo(topic);
  CodeTerm term;
  std::string_view code = value;
  if (auto bar = value.find('|'); bar != std::string_view::npos) {
    std::string_view system = value.substr(0, bar);
    code = value.substr(bar + 1);
    if (system.empty()) {
      term.system = info.code_systems.front();
    } else {
      auto id = codeSystemFromUri(system);
      bool allowed = false;
      if (id)
        for (CodeSystemId s : info.code_systems) allowed = allowed || s == *id;
      if (!allowed) {
        std::string what = "code system is not one topic ";
        what.append(info.name).append(" filters on (");
        for (std::size_t i = 0; i < info.code_systems.size(); ++i)
          what.append(i ? ", " : "").append(codeSystemUri(info.code_systems[i]));
        return invalid(path, what.append(")"));
      }
      term.system = *id;
    }
  } else {
    term.system = info.code_systems.front();
  }
  code = trim(code);
  if (code.empty()) return invalid(path, "a code filter value has no code");
  if (codeSystemHasRanges(term.system)) {
    std::string_view low = code, high = code;
    if (auto dash = code.find('-'); dash != std::string_view::npos) {
      term.range = true;
      low = trim(code.substr(0, dash));
      high = trim(code.substr(dash + 1));
    }
    term.low = normalizeCodeKey(low);
    term.high = normalizeCodeKey(high);
    if (!isAlnum(term.low) || !isAlnum(term.high))
      return invalid(path, "a code or range bound is not letters and digits (ranges are written C00-D49)");
    if (term.high < term.low.substr(0, term.high.size()))
      return invalid(path, "a code range ends before it starts");
  } else {
    term.low = term.high = normalizeCodeKey(code);
  }
  return term;
}

Result<void> parseParameter(Topic topic, std::string_view param, const std::string& path, std::vector<Filter>& out) {
  auto eq = param.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return invalid(path, "each filter must be written key=value (e.g. code=C00-D49)");
  std::string_view key = trim(param.substr(0, eq));
  std::string decoded;
  if (!percentDecode(param.substr(eq + 1), decoded)) return invalid(path, "malformed percent-encoding");
  Filter f;
  if (key == kFilterPatient) f.key = FilterKey::kPatient;
  else if (key == kFilterCode) f.key = FilterKey::kCode;
  else if (key == kFilterSpecialty) f.key = FilterKey::kSpecialty;
  else if (key == kFilterFacility) f.key = FilterKey::kFacility;
  else if (key == kFilterPatientClass) f.key = FilterKey::kPatientClass;
  else if (key.find(':') != std::string_view::npos)
    return invalid(path, "search modifiers are not supported in filters");
  else
    return invalid(path, "unknown filter key (supported: patient, code, specialty, facility, patient-class)");

  for (std::string_view raw : split(decoded, ',')) {
    std::string_view v = trim(raw);
    if (v.empty()) return invalid(path, "a filter value is empty");
    switch (f.key) {
      case FilterKey::kPatient: {
        if (v.substr(0, 8) == "Patient/") v.remove_prefix(8);
        if (v.empty() || v.find_first_of("/ |?") != std::string_view::npos)
          return invalid(path, "a patient filter must be Patient/<id>");
        f.values.emplace_back(v);
        break;
      }
      case FilterKey::kCode: {
        auto term = parseCodeTerm(topic, v, path);
        if (!term) return Unexpected(std::move(term).error());
        f.codes.push_back(std::move(*term));
        break;
      }
      case FilterKey::kSpecialty:
      case FilterKey::kFacility:
        f.values.push_back(lowerCase(v));
        break;
      case FilterKey::kPatientClass: {
        auto code = patientClassCode(v);
        if (!code) return invalid(path, "unknown patient class (HL7 table 0004 code, or IMP, AMB, EMER, PRENC)");
        f.values.push_back(std::move(*code));
        break;
      }
    }
  }
  out.push_back(std::move(f));
  return Ok();
}

// Reads an unsignedInt / positiveInt extension value.
Result<uint32_t> extensionUint(const Value& ext, std::string_view key, const std::string& path, bool positive) {
  auto it = ext.FindMember(rapidjson::StringRef(key.data(), key.size()));
  std::string value_path = path + "." + std::string(key);
  if (it == ext.MemberEnd() || !it->value.IsUint())
    return invalid(value_path, positive ? "must be a positive integer" : "must be a non-negative integer");
  uint32_t v = it->value.GetUint();
  if (positive && v == 0) return invalid(value_path, "must be a positive integer");
  return v;
}

const Value* member(const Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

bool validHttpsUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (url.size() <= kScheme.size() || url.substr(0, kScheme.size()) != kScheme) return false;
  std::string_view rest = url.substr(kScheme.size());
  if (rest.empty() || rest.front() == '/' || rest.front() == ':' || rest.front() == '?') return false;
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  return true;
}

bool validHeader(std::string_view h) {
  auto colon = h.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (std::size_t i = 0; i < colon; ++i) {
    char c = h[i];
    bool token = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!token) return false;
  }
  for (char c : h)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

Result<void> readChannel(const Value& root, SubscriptionSpec& spec) {
  const Value* channel = member(root, "channel");
  if (channel == nullptr) return invalid("Subscription.channel", "is required");
  if (!channel->IsObject()) return invalid("Subscription.channel", "must be an object");
  Channel& ch = spec.channel;

  const Value* type = member(*channel, "type");
  if (type == nullptr || !type->IsString()) return invalid("Subscription.channel.type", "is required (rest-hook)");
  if (view(*type) != "rest-hook")
    return invalid("Subscription.channel.type", "only rest-hook is supported");

  const Value* payload = member(*channel, "payload");
  if (payload != nullptr) {
    if (!payload->IsString()) return invalid("Subscription.channel.payload", "must be a MIME type string");
    ch.payload_mime.assign(view(*payload));
    std::string_view mime = ch.payload_mime;
    if (auto semi = mime.find(';'); semi != std::string_view::npos) mime = trim(mime.substr(0, semi));
    if (mime != "application/fhir+json" && mime != "application/json")
      return invalid("Subscription.channel.payload", "only application/fhir+json is supported");
    ch.content = PayloadContent::kIdOnly;
  }
  if (const Value* meta = member(*channel, "_payload")) {
    const Value* exts = meta->IsObject() ? member(*meta, "extension") : nullptr;
    if (exts != nullptr && !exts->IsArray())
      return invalid("Subscription.channel.payload.extension", "must be an array");
    for (rapidjson::SizeType i = 0; exts != nullptr && i < exts->Size(); ++i) {
      const Value& ext = (*exts)[i];
      std::string path = indexed("Subscription.channel.payload.extension", i);
      const Value* url = ext.IsObject() ? member(ext, "url") : nullptr;
      if (url == nullptr || !url->IsString()) return invalid(path + ".url", "is required");
      if (view(*url) != kPayloadContentUrl) continue;
      const Value* code = member(ext, "valueCode");
      std::string_view c = code != nullptr && code->IsString() ? view(*code) : std::string_view();
      if (c == "empty") ch.content = PayloadContent::kEmpty;
      else if (c == "id-only") ch.content = PayloadContent::kIdOnly;
      else if (c == "full-resource") ch.content = PayloadContent::kFullResource;
      else return invalid(path + ".valueCode", "must be empty, id-only or full-resource");
      if (ch.payload_mime.empty() && ch.content != PayloadContent::kEmpty) ch.payload_mime = "application/fhir+json";
    }
  }

  const Value* endpoint = member(*channel, "endpoint");
  if (endpoint == nullptr || !endpoint->IsString() || endpoint->GetStringLength() == 0)
    return invalid("Subscription.channel.endpoint", "is required for rest-hook");
  ch.endpoint.assign(view(*endpoint));
  if (!validHttpsUrl(ch.endpoint)) {
    if (ch.endpoint.substr(0, 7) == "http://" && ch.content == PayloadContent::kFullResource)
      return invalid("Subscription.channel.endpoint",
                     "must be an https:// URL: full-resource notifications carry patient data, which Courier "
                     "never sends over plain http");
    if (ch.endpoint.substr(0, 7) == "http://")
      return invalid("Subscription.channel.endpoint",
                     "must be an https:// URL: notifications name patients' resources, which Courier never "
                     "sends over plain http");
    return invalid("Subscription.channel.endpoint", "must be an absolute https:// URL without spaces");
  }

  if (const Value* headers = member(*channel, "header")) {
    if (!headers->IsArray()) return invalid("Subscription.channel.header", "must be an array of strings");
    for (rapidjson::SizeType i = 0; i < headers->Size(); ++i) {
      const Value& h = (*headers)[i];
      std::string path = indexed("Subscription.channel.header", i);
      if (!h.IsString() || !validHeader(view(h)))
        return invalid(path, "must be one HTTP header written 'Name: value' (no line breaks)");
      ch.headers.emplace_back(view(h));
    }
  }

  if (const Value* exts = member(*channel, "extension")) {
    if (!exts->IsArray()) return invalid("Subscription.channel.extension", "must be an array");
    for (rapidjson::SizeType i = 0; i < exts->Size(); ++i) {
      const Value& ext = (*exts)[i];
      std::string path = indexed("Subscription.channel.extension", i);
      const Value* url = ext.IsObject() ? member(ext, "url") : nullptr;
      if (url == nullptr || !url->IsString()) return invalid(path + ".url", "is required");
      std::string_view u = view(*url);
      if (u == kHeartbeatUrl) {
        auto v = extensionUint(ext, "valueUnsignedInt", path, false);
        if (!v) return Unexpected(std::move(v).error());
        ch.heartbeat_period = std::chrono::seconds(*v);
      } else if (u == kTimeoutUrl) {
        auto v = extensionUint(ext, "valueUnsignedInt", path, false);
        if (!v) return Unexpected(std::move(v).error());
        ch.timeout = std::chrono::seconds(*v);
      } else if (u == kMaxCountUrl) {
        auto v = extensionUint(ext, "valuePositiveInt", path, true);
        if (!v) return Unexpected(std::move(v).error());
        ch.max_count = *v;
      }
    }
  }
  return Ok();
}

}  // namespace

std::string_view subscriptionStatusName(SubscriptionStatus status) {
  switch (status) {
    case SubscriptionStatus::kRequested: return "requested";
    case SubscriptionStatus::kActive: return "active";
    case SubscriptionStatus::kError: return "error";
    case SubscriptionStatus::kOff: return "off";
  }
  return "";
}

std::string_view payloadContentName(PayloadContent content) {
  switch (content) {
    case PayloadContent::kEmpty: return "empty";
    case PayloadContent::kIdOnly: return "id-only";
    case PayloadContent::kFullResource: return "full-resource";
  }
  return "";
}

std::string_view filterKeyName(FilterKey key) {
  switch (key) {
    case FilterKey::kPatient: return kFilterPatient;
    case FilterKey::kCode: return kFilterCode;
    case FilterKey::kSpecialty: return kFilterSpecialty;
    case FilterKey::kFacility: return kFilterFacility;
    case FilterKey::kPatientClass: return kFilterPatientClass;
  }
  return "";
}

std::string normalizeCodeKey(std::string_view code) {
  std::string out;
  out.reserve(code.size());
  for (char c : code) {
    if (c == '.' || c == ' ') continue;
    out += upper(c);
  }
  return out;
}

Result<void> parseFilterCriteria(Topic topic, std::string_view text, std::string_view path,
                                 std::vector<Filter>& out) {
  std::string p(path);
  text = trim(text);
  if (text.empty()) return invalid(p, "a filter criteria string is empty");
  if (auto q = text.find('?'); q != std::string_view::npos) {
    std::string_view resource = text.substr(0, q);
    if (resource != topicInfo(topic).resource) {
      std::string what = "the filter's resource type is not the topic's (";
      return invalid(p, what.append(topicInfo(topic).resource).append(")"));
    }
    text = text.substr(q + 1);
  }
  for (std::string_view param : split(text, '&')) {
    if (param.empty()) continue;
    auto r = parseParameter(topic, param, p, out);
    if (!r) return r;
  }
  return Ok();
}

std::optional<std::chrono::system_clock::time_point> parseFhirInstant(std::string_view t) {
  // YYYY-MM-DDThh:mm:ss[.f+](Z|(+|-)hh:mm)
  auto digits = [&](std::size_t at, std::size_t n, int& out) {
    if (at + n > t.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!digits(0, 4, y) || t.size() < 20 || t[4] != '-' || !digits(5, 2, mo) || t[7] != '-' || !digits(8, 2, d) ||
      t[10] != 'T' || !digits(11, 2, h) || t[13] != ':' || !digits(14, 2, mi) || t[16] != ':' || !digits(17, 2, s))
    return std::nullopt;
  if (mo < 1 || mo > 12 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                        std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  std::size_t at = 19;
  std::chrono::nanoseconds fraction{0};
  if (at < t.size() && t[at] == '.') {
    ++at;
    const std::size_t begin = at;
    std::int64_t scale = 100000000;
    while (at < t.size() && t[at] >= '0' && t[at] <= '9') {
      fraction += std::chrono::nanoseconds((t[at] - '0') * scale);
      scale /= 10;
      ++at;
    }
    if (at == begin) return std::nullopt;
  }
  std::chrono::minutes offset{0};
  if (at < t.size() && t[at] == 'Z') {
    ++at;
  } else if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
    int oh = 0, om = 0;
    if (!digits(at + 1, 2, oh) || at + 3 >= t.size() || t[at + 3] != ':' || !digits(at + 4, 2, om) || oh > 14 ||
        om > 59)
      return std::nullopt;
    offset = std::chrono::hours(oh) + std::chrono::minutes(om);
    if (t[at] == '-') offset = -offset;
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != t.size()) return std::nullopt;
  auto tp = std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(s) -
            offset;
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(tp) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(fraction);
}

Result<SubscriptionSpec> parseSubscription(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseStopWhenDoneFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    std::string what = "is not valid JSON (";
    what.append(rapidjson::GetParseError_En(doc.GetParseError())).append(" at offset ");
    what.append(std::to_string(doc.GetErrorOffset())).append(")");
    return invalid("Subscription", what);
  }
  if (!doc.IsObject()) return invalid("Subscription", "must be a JSON object");
  const Value* rt = member(doc, "resourceType");
  if (rt == nullptr || !rt->IsString() || view(*rt) != "Subscription")
    return invalid("Subscription.resourceType", "must be Subscription");

  SubscriptionSpec spec;
  if (const Value* id = member(doc, "id")) {
    if (!id->IsString() || !validFhirId(view(*id)))
      return invalid("Subscription.id", "must be a FHIR id (letters, digits, '-', '.'; at most 64)");
    spec.id.assign(view(*id));
  }

  const Value* status = member(doc, "status");
  if (status == nullptr || !status->IsString()) return invalid("Subscription.status", "is required");
  std::string_view s = view(*status);
  if (s == "requested") spec.status = SubscriptionStatus::kRequested;
  else if (s == "active") spec.status = SubscriptionStatus::kActive;
  else if (s == "error") spec.status = SubscriptionStatus::kError;
  else if (s == "off") spec.status = SubscriptionStatus::kOff;
  else return invalid("Subscription.status", "must be requested, active, error or off");

  const Value* reason = member(doc, "reason");
  if (reason == nullptr || !reason->IsString() || reason->GetStringLength() == 0)
    return invalid("Subscription.reason", "is required");
  spec.reason.assign(view(*reason));

  if (const Value* end = member(doc, "end")) {
    if (!end->IsString()) return invalid("Subscription.end", "must be a FHIR instant");
    spec.end_time = parseFhirInstant(view(*end));
    if (!spec.end_time)
      return invalid("Subscription.end", "must be a FHIR instant with seconds and a time zone (2026-05-01T12:00:00Z)");
    spec.end.assign(view(*end));
  }

  const Value* criteria = member(doc, "criteria");
  if (criteria == nullptr || !criteria->IsString() || criteria->GetStringLength() == 0)
    return invalid("Subscription.criteria", "is required: the canonical URL of a SubscriptionTopic");
  auto topic = topicFromUrl(view(*criteria));
  if (!topic) {
    std::string what = "is not a topic Courier publishes (see GET ";
    return invalid("Subscription.criteria", what.append(kFhirBase).append("Basic?code=SubscriptionTopic)"));
  }
  spec.topic = *topic;

  if (const Value* meta = member(doc, "_criteria")) {
    const Value* exts = meta->IsObject() ? member(*meta, "extension") : nullptr;
    if (exts != nullptr && !exts->IsArray()) return invalid("Subscription.criteria.extension", "must be an array");
    for (rapidjson::SizeType i = 0; exts != nullptr && i < exts->Size(); ++i) {
      const Value& ext = (*exts)[i];
      std::string path = indexed("Subscription.criteria.extension", i);
      const Value* url = ext.IsObject() ? member(ext, "url") : nullptr;
      if (url == nullptr || !url->IsString()) return invalid(path + ".url", "is required");
      if (view(*url) != kFilterCriteriaUrl) continue;
      const Value* value = member(ext, "valueString");
      if (value == nullptr || !value->IsString()) return invalid(path + ".valueString", "is required");
      auto r = parseFilterCriteria(spec.topic, view(*value), path + ".valueString", spec.filters);
      if (!r) return Unexpected(std::move(r).error());
      spec.filter_criteria.emplace_back(view(*value));
    }
  }

  auto ch = readChannel(doc, spec);
  if (!ch) return Unexpected(std::move(ch).error());
  return spec;
}

std::string subscriptionJson(const SubscriptionSpec& spec, bool include_header_values) {
  using fhir::writeField;
  using fhir::writeKey;
  rapidjson::StringBuffer buf;
  fhir::JsonWriter w(buf);
  auto extension = [&](std::string_view url, std::string_view key, auto write_value) {
    w.StartObject();
    writeField(w, "url", url);
    writeKey(w, key);
    write_value();
    w.EndObject();
  };
  w.StartObject();
  writeField(w, "resourceType", "Subscription");
  writeField(w, "id", spec.id);
  writeKey(w, "meta");
  w.StartObject();
  writeKey(w, "profile");
  w.StartArray();
  fhir::writeString(w, std::string(kBackport).append("backport-subscription"));
  w.EndArray();
  w.EndObject();
  writeField(w, "status", subscriptionStatusName(spec.status));
  writeField(w, "end", spec.end);
  writeField(w, "reason", spec.reason);
  writeField(w, "criteria", topicUrl(spec.topic));
  if (!spec.filter_criteria.empty()) {
    writeKey(w, "_criteria");
    w.StartObject();
    writeKey(w, "extension");
    w.StartArray();
    for (const std::string& f : spec.filter_criteria)
      extension(kFilterCriteriaUrl, "valueString", [&] { fhir::writeString(w, f); });
    w.EndArray();
    w.EndObject();
  }
  const Channel& ch = spec.channel;
  writeKey(w, "channel");
  w.StartObject();
  if (ch.heartbeat_period || ch.timeout || ch.max_count) {
    writeKey(w, "extension");
    w.StartArray();
    if (ch.heartbeat_period)
      extension(kHeartbeatUrl, "valueUnsignedInt", [&] { w.Uint64(static_cast<uint64_t>(ch.heartbeat_period->count())); });
    if (ch.timeout)
      extension(kTimeoutUrl, "valueUnsignedInt", [&] { w.Uint64(static_cast<uint64_t>(ch.timeout->count())); });
    if (ch.max_count) extension(kMaxCountUrl, "valuePositiveInt", [&] { w.Uint(*ch.max_count); });
    w.EndArray();
  }
  writeField(w, "type", "rest-hook");
  writeField(w, "endpoint", ch.endpoint);
  writeField(w, "payload", ch.payload_mime.empty() ? std::string_view("application/fhir+json") : ch.payload_mime);
  writeKey(w, "_payload");
  w.StartObject();
  writeKey(w, "extension");
  w.StartArray();
  extension(kPayloadContentUrl, "valueCode", [&] { fhir::writeString(w, payloadContentName(ch.content)); });
  w.EndArray();
  w.EndObject();
  if (!ch.headers.empty()) {
    writeKey(w, "header");
    w.StartArray();
    for (const std::string& h : ch.headers) {
      if (include_header_values) {
        fhir::writeString(w, h);
      } else {
        std::string masked = h.substr(0, h.find(':'));
        fhir::writeString(w, masked.append(": [redacted]"));
      }
    }
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace courier::subscriptions
