// Config: the whole Courier configuration, read once from one YAML file into typed,
// immutable structs (std::chrono durations, ports, enum classes, resolved paths). No
// string maps survive loading; adapters read the struct of their own section.
//
// Loading (loadConfig) reports EVERY problem at once, each as a ConfigError with
// file:line:column and a sentence a new user understands: unknown keys, wrong types,
// values out of range, missing variables, missing certificate files, duplicate listener
// names or ports. `courier check-config FILE` runs exactly this code.
//
// Values may name environment variables: `${NAME}` or `${NAME:-default}` anywhere inside
// a scalar. A variable that is unset (or empty, for `:-`) and has no default is an error.
//
// Paths: `data_dir`, when relative, resolves against the current working directory (or
// is replaced by LoadOptions::data_dir_override, i.e. `--data-dir`). Every other relative
// path (store file, certificate, key and CA files) resolves against the data directory,
// so `certs/server.crt` means `<data-dir>/certs/server.crt`. All paths in Config are
// resolved (absolute or cwd-relative through an absolute data dir) after loading.
//
// Durations are written with a unit: `500ms`, `30s`, `5m`, `1h`. Sizes take an optional
// unit: `1048576`, `64KiB`, `1MiB`.
//
// Thread-safety: a Config is immutable after loading; share it by const reference.
// Reload builds a whole new Config and swaps it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/result.h"

namespace courier::config {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };
std::string_view logLevelName(LogLevel level);  // "info", ... (what setLogLevel takes)

enum class StoreKind { kSqlite, kPostgres };  // `kind: sqlite` (default) | `kind: postgres`

// Grouped commits: when the store's writer is free it takes what is queued; if that is
// fewer than max_batch it waits at most max_delay (counted from when the oldest queued
// message arrived) for more, then commits them all with one fsync. Messages arriving
// during a commit form the next group, so under load groups grow by themselves;
// max_delay 0 (the default) commits at once: lowest latency, more fsyncs at low load. On
// the development VM over TLS with 16 connections, 0 against 1ms: 49-52k against 45-47k
// messages/s closed loop, p99 14 against 15-18 ms at 10k/s (bench/mllp_load).
struct GroupCommit {
  std::size_t max_batch = 1024;                        // 1 .. 100000
  std::chrono::microseconds max_delay{0};              // 0 .. 1s
};

// Cluster mode (kind: postgres): several Courier nodes share one PostgreSQL database.
struct PostgresConfig {
  // libpq connection string, keyword=value or postgresql:// URI. Several hosts plus
  // target_session_attrs=read-write make libpq find the primary after a failover.
  // Required for kind: postgres. A password belongs in a passfile (PGPASSFILE), not here.
  std::string conninfo;
  std::size_t pool = 4;  // read connections (list/get/CLI), 1 .. 64; the writer has its own
};

struct StoreConfig {
  StoreKind kind = StoreKind::kSqlite;
  std::filesystem::path sqlite_path;                   // default <data-dir>/courier.db
  PostgresConfig postgres;                             // kind: postgres only
  GroupCommit group_commit;
  std::size_t max_pending = 100000;  // queued, not yet committed; beyond: kUnavailable
};

enum class ListenerKind { kMllp, kHttp };  // `kind: mllp` (default) | `kind: http`

enum class ClientCertMode {
  kNone,      // never ask for a client certificate
  kOptional,  // ask; a client without one connects anonymously (empty identity)
  kRequired,  // refuse a client without a valid certificate from ca_file
};
std::string_view clientCertModeName(ClientCertMode mode);

struct TlsConfig {
  bool enabled = true;                 // TLS 1.2/1.3 only when on
  std::filesystem::path cert_file;     // server certificate chain (PEM)
  std::filesystem::path key_file;      // its private key (PEM)
  std::filesystem::path ca_file;       // CA that signs client certificates; required
                                       // when client_certs is not none
  ClientCertMode client_certs = ClientCertMode::kNone;
};

// A client identity (certificate subject CN or a SAN) and the sending facilities
// (MSH-4, as sent, compared exactly) it may send for. "*" allows any facility.
struct AllowedClient {
  std::string identity;
  std::vector<std::string> sending_facilities;
};

struct ListenerLimits {
  std::size_t max_frame_bytes = 1 << 20;                // 1 KiB .. 256 MiB
  std::size_t max_connections = 1024;                   // 1 .. 1000000
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};  // no frame started
  std::chrono::milliseconds read_timeout{std::chrono::seconds(30)}; // inside a frame
};

// Which acknowledgment mode a listener answers in.
enum class AckPolicy {
  kAuto,      // follow the message: enhanced (CA) when MSH-15 is set, else original (AA)
  kOriginal,  // always original mode: AA once stored
  kEnhanced,  // always enhanced mode: CA once stored
};
std::string_view ackPolicyName(AckPolicy policy);

struct AckConfig {
  AckPolicy policy = AckPolicy::kAuto;
  bool mllp_commit_acks = false;  // MLLP release 2: 0x0B 0x06 0x1C 0x0D / 0x15 frames
};

// The `http:` section of a `kind: http` listener (adapters/http, the FHIR REST API).
// A request is authenticated by a bearer token from token_file or by a verified client
// certificate (tls.client_certs optional/required; when allowed_clients is non-empty the
// certificate identity must be listed there). A listener needs at least one of the two.
struct HttpListenerConfig {
  // One client per line: "<identity> <token>", or a bare "<token>" whose identity is the
  // file's name (e.g. "dev-token"). '#' starts a comment. Empty path: no bearer tokens.
  // `courier serve` writes <data-dir>/dev-token with a random token on first run when
  // the config names that file and it does not exist.
  std::filesystem::path token_file;
  std::size_t max_body_bytes = 8 << 20;                          // 1 KiB .. 256 MiB; larger: 413
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};  // headers + body, once started
};

struct ListenerConfig {
  std::string name;                 // unique; stored with each message
  ListenerKind kind = ListenerKind::kMllp;
  std::string address = "127.0.0.1";
  std::uint16_t port = 2575;        // 0: any free port (tests); unique per address;
                                    // default 2575 for mllp, 8443 for http
  TlsConfig tls;
  // Empty: any client (anonymous included, when certificates are optional) may send
  // for any facility. Non-empty: the peer identity must be listed, and MSH-4 must be
  // one of its facilities; an anonymous client is refused.
  std::vector<AllowedClient> allowed_clients;
  ListenerLimits limits;             // http: max_connections, idle_timeout (between requests)
  AckConfig ack;                     // mllp only
  HttpListenerConfig http;           // http only
};

// ---- Destinations and routes (engine/routing, engine/delivery, adapters/*) ----------

enum class DestinationKind { kMllp, kHttps, kFile };  // `kind: mllp | https | file`
std::string_view destinationKindName(DestinationKind kind);

// What a destination receives for each routed message.
enum class PayloadFormat {
  kHl7v2,       // `hl7v2`: the message exactly as received (MLLP destinations)
  kFhirBundle,  // `fhir-bundle`: the canonical record as a FHIR R4 Bundle (type message/collection)
  kFhirClaim,   // `fhir-claim`: a FHIR R4 Claim from the coded record (claims only)
  kX12_837P,    // `x12-837p`: an X12 005010X222A1 837P interchange (claims only)
  kNdjson,      // `ndjson`: the canonical record's JSON, one line per message (files)
};
std::string_view payloadFormatName(PayloadFormat format);

// What an MLLP destination's negative ACK means; partners disagree.
enum class NakAction { kRetry, kDeadLetter };  // `retry | dead-letter`

struct RetryPolicy {
  std::chrono::milliseconds initial_backoff{std::chrono::seconds(1)};  // first retry after ~this
  std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};      // doubling stops here
  std::uint32_t max_attempts = 0;                                       // 0: no limit by count
  std::chrono::milliseconds max_age{std::chrono::hours(72)};           // then dead-letter; 0: none
};

// Outbound TLS (client side). Trusts the system CA store plus ca_files; a client
// certificate is presented when cert_file is set.
struct ClientTlsConfig {
  bool enabled = true;
  std::vector<std::filesystem::path> ca_files;
  bool use_system_cas = true;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  std::string server_name;  // SNI / name checked; default: the host
};

// Who the claims are from and to (X12 envelope and loops 1000A/B, 2010AA).
struct ClaimParties {
  std::string submitter_id;       // ISA06 / NM109 of 1000A
  std::string submitter_name;
  std::string submitter_contact;  // PER02
  std::string submitter_phone;    // PER04
  std::string receiver_id;        // ISA08 / NM109 of 1000B
  std::string receiver_name;
  std::string billing_npi;        // 2010AA NM109 (10 digits)
  std::string billing_name;
  std::string billing_tax_id;     // REF*EI
  std::string billing_address;
  std::string billing_city;
  std::string billing_state;
  std::string billing_zip;
  std::string payer_id;           // 2010BB NM109 when the record's coverage has none
  std::string payer_name;
  char usage = 'T';               // ISA15: T test, P production
};

struct DestinationConfig {
  std::string name;                  // unique; names the outbox queue
  DestinationKind kind = DestinationKind::kHttps;
  PayloadFormat format = PayloadFormat::kFhirBundle;
  // mllp
  std::string host;
  std::uint16_t port = 0;
  NakAction on_ae = NakAction::kRetry;
  NakAction on_ar = NakAction::kDeadLetter;
  // https: url is https://host[:port]/path; POST (or PUT to url/{type}/{id})
  std::string url;
  std::string method = "POST";
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
  std::filesystem::path token_file;  // when set, its first non-comment line is a bearer token
  // file
  std::filesystem::path directory;   // created if missing; files appear by atomic rename
  bool one_file_per_message = true;  // false: one file per delivered batch
  // mllp + https
  ClientTlsConfig tls;
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds response_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds keepalive_idle{std::chrono::minutes(1)};  // close an idle connection after
  RetryPolicy retry;
  ClaimParties claim;                // fhir-claim / x12-837p only
};

// A code range in a route: `icd10cm: C00-D49`, `hcpcs: J0000-J9999`; inclusive, compared on
// the code without its dot, a shorter bound covering its whole subtree (C00-D49 takes D49.9).
struct CodeRange {
  std::string system;  // "icd10cm" | "icd10pcs" | "hcpcs"
  std::string from;
  std::string to;
};

enum class FieldOp { kEquals, kNotEquals, kExists, kMissing, kPrefix };
// `field: PV1-2  equals: I` (or one of `in: [..]`, `not: ..`, `exists: true`, `prefix: ..`).
struct FieldTest {
  std::string path;                 // HL7 v2 path (engine/hl7v2/path.h)
  FieldOp op = FieldOp::kEquals;
  std::vector<std::string> values;  // any of them
};

enum class CoderOutcome { kAny, kAllBillable, kNeedsReview };  // `coded: any | billable | review`

// Every condition that is set must hold (AND); a list matches when any element does (OR).
struct RouteMatch {
  std::vector<std::string> message_types;        // "ADT", "ADT^A01", "DFT^P03"
  std::vector<std::string> sending_applications; // MSH-3 namespace id
  std::vector<std::string> sending_facilities;   // MSH-4 namespace id
  std::vector<std::string> listeners;
  std::vector<std::string> patient_classes;      // PV1-2 (I, O, E, ...)
  std::vector<std::string> hospital_services;    // PV1-10
  std::vector<std::string> specialties;          // derived: cardiology, oncology, ...
  std::optional<bool> has_diagnoses;
  std::optional<bool> has_procedures;
  std::optional<bool> has_charges;
  std::vector<CodeRange> codes;                  // some assigned code falls in one
  CoderOutcome coded = CoderOutcome::kAny;
  std::vector<FieldTest> fields;
};

struct RouteConfig {
  std::string name;
  RouteMatch match;
  std::vector<std::string> destinations;  // names from `destinations:`
};

// MSH-16 application acknowledgements: once the pipeline processed a sender's message
// that asks for one, the ACK (AA, or AR when the message could not be processed) goes to
// this destination's outbox (an hl7v2 destination: the sender's own MLLP listener, or
// files). A message takes the first entry whose facility (MSH-4.1) and application
// (MSH-3.1) match; an empty one matches any sender.
struct ApplicationAckConfig {
  std::string facility;
  std::string application;
  std::string destination;  // a name from `destinations:`, format hl7v2
};

// engine/pipeline: stored inbox messages -> record -> code -> route -> outboxes.
struct PipelineConfig {
  bool enabled = true;
  std::size_t workers = 0;       // compute threads; 0: one per core
  std::size_t batch = 512;       // inbox messages per transaction
  std::vector<ApplicationAckConfig> application_acks;  // in file order
};

// FHIR topic-based subscriptions (engine/subscriptions): how notifications go out. Each
// subscription's rest-hook endpoint is an https URL; outbound TLS trusts the system CAs
// plus ca_files.
struct SubscriptionsConfig {
  std::vector<std::filesystem::path> ca_files;
  RetryPolicy retry;  // past it a notification is dead-lettered and the subscription goes to error
  std::chrono::milliseconds heartbeat_check{std::chrono::seconds(1)};  // how often heartbeats are looked at
};

// engine/record: site maps (record/site_map.h) that map a sender's Z-segments and local
// fields to record elements. A message takes the first entry whose facility (MSH-4.1)
// and application (MSH-3.1) match; an empty one matches any sender. The files are read
// and checked by record::SiteMaps::load, not here.
struct SiteMapConfig {
  std::string facility;
  std::string application;
  std::filesystem::path file;  // resolved like other files (relative: inside data_dir)
};

struct RecordConfig {
  std::vector<SiteMapConfig> site_maps;  // in file order
};

struct Config {
  std::filesystem::path source_file;   // the YAML file it came from
  std::filesystem::path data_dir;      // resolved; default ./var
  LogLevel log_level = LogLevel::kInfo;
  std::size_t io_threads = 0;          // 0: one per core
  StoreConfig store;
  std::vector<ListenerConfig> listeners;
  PipelineConfig pipeline;
  std::vector<DestinationConfig> destinations;
  std::vector<RouteConfig> routes;  // in file order; every matching route applies
  SubscriptionsConfig subscriptions;
  RecordConfig record;

  const ListenerConfig* findListener(std::string_view name) const;
  const DestinationConfig* findDestination(std::string_view name) const;
};

// One problem found while loading, located in the file.
struct ConfigError {
  std::string file;       // as given to loadConfig
  int line = 0;           // 1-based; 0 when unknown (e.g. file not readable)
  int column = 0;         // 1-based
  std::string key_path;   // e.g. "listeners[0].tls.cert_file"; may be empty
  std::string message;    // one sentence for a human

  // "courier.yaml:12:5: listeners[0].port: the port must be between 0 and 65535."
  std::string toString() const;
  // As a courier::Error{kConfig, message, "file:line:col"}.
  Error toError() const;
};

using ConfigErrors = std::vector<ConfigError>;

// Looks up an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup processEnv();  // getenv

struct LoadOptions {
  // Replaces `data_dir` from the file (`--data-dir DIR`).
  std::optional<std::filesystem::path> data_dir_override;
  // Check that certificate/key/CA files exist and are readable. `courier serve` loads
  // once with false, creates the development certificates, then loads with true.
  bool check_files = true;
};

// Reads and validates `file`. On failure returns every problem found, in file order.
[[nodiscard]] Result<Config, ConfigErrors> loadConfig(const std::filesystem::path& file,
                                                      const EnvLookup& env = processEnv(),
                                                      const LoadOptions& options = {});

// Same, from text already in memory; `file_name` is used in locations only, and relative
// paths resolve as in loadConfig. For tests and the fuzzer.
[[nodiscard]] Result<Config, ConfigErrors> parseConfig(std::string_view yaml_text,
                                                       std::string_view file_name,
                                                       const EnvLookup& env = processEnv(),
                                                       const LoadOptions& options = {});

}  // namespace courier::config
