#include "engine/core/error.h"

namespace courier {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kParse: return "parse";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kConfig: return "config";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Error::toString() const {
  std::string out(errorCodeName(code));
  out += ": ";
  if (!location.empty()) {
    out += location;
    out += ": ";
  }
  out += message;
  return out;
}

}  // namespace courier
