#include "engine/store/message_store.h"

namespace courier::store {

std::string_view ackCodeName(AckCode code) {
  switch (code) {
    case AckCode::kAA: return "AA";
    case AckCode::kAE: return "AE";
    case AckCode::kAR: return "AR";
    case AckCode::kCA: return "CA";
    case AckCode::kCE: return "CE";
    case AckCode::kCR: return "CR";
  }
  return "AE";
}

std::optional<AckCode> parseAckCode(std::string_view text) {
  for (AckCode c : {AckCode::kAA, AckCode::kAE, AckCode::kAR, AckCode::kCA, AckCode::kCE, AckCode::kCR}) {
    if (ackCodeName(c) == text) return c;
  }
  return std::nullopt;
}

AckCode positiveAck(AckMode mode) { return mode == AckMode::kEnhanced ? AckCode::kCA : AckCode::kAA; }

std::string_view messageStatusName(MessageStatus status) {
  switch (status) {
    case MessageStatus::kReceived: return "received";
    case MessageStatus::kProcessing: return "processing";
    case MessageStatus::kProcessed: return "processed";
    case MessageStatus::kFailed: return "failed";
  }
  return "received";
}

}  // namespace courier::store
