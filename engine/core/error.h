// Error: the one error value of Courier (leveldb's Status, in spirit).
//
// It carries a machine-readable code, a message that never contains PHI (no
// field values, names or identifiers: say what is wrong and where, not what the
// data was), and the location it refers to: an HL7 path (`PID-3(1).1`), a JSON
// path (`Bundle.entry[2].resource`) or a config position (`courier.yaml:12:5`).
#pragma once

#include <string>
#include <string_view>

namespace courier {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // caller passed something malformed
  kParse,            // input bytes could not be parsed
  kNotFound,
  kAlreadyExists,    // e.g. a duplicate message
  kTooLarge,
  kUnauthorized,     // no or bad credentials
  kForbidden,        // credentials fine, not allowed to do this
  kUnsupported,
  kUnavailable,      // a dependency (disk, database, peer) is unavailable; retry may work
  kTimeout,
  kIo,
  kConfig,
  kInternal,
};

std::string_view errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;   // PHI-free sentence
  std::string location;  // where: HL7 path, JSON path, file:line:col; may be empty

  Error() = default;
  Error(ErrorCode c, std::string msg, std::string loc = {})
      : code(c), message(std::move(msg)), location(std::move(loc)) {}

  // "parse: PID-3: field too long" (code name, location when set, message).
  std::string toString() const;
};

}  // namespace courier
