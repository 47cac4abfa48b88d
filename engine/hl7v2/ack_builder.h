// AckBuilder: acknowledgements for received messages.
//
// Original mode (MSH-15 and MSH-16 empty): AA / AE / AR.
// Enhanced mode (either valued): commit acknowledgements CA / CE / CR, sent or
// not as MSH-15 asks (AL always, NE never, ER only on error, SU only on success).
//
// The ACK swaps sender and receiver, is typed ACK^<trigger>^ACK, echoes MSH-10 in
// MSA-2, gets a fresh unique MSH-10 of its own, copies MSH-11 and MSH-12, and
// uses the original's delimiters. Errors become ERR segments: for v2.5 and later
// ERR-2 (location), ERR-3 (table 0357 code), ERR-4 (severity) and ERR-8 (text);
// for older versions the v2.3 form, ERR-1 = segment^sequence^field^code&text.
// An ACK is never acknowledged.
//
// Application acknowledgements (buildApplication) answer MSH-16 once the message was
// processed: AA / AE / AR, sent or not as MSH-16 asks (AL, NE, ER, SU; empty: none was
// asked for). They are messages of their own, going to the sender's listener, so they
// ask for a commit acknowledgement back (MSH-15 AL) and never for an application one
// (MSH-16 NE).
//
// Thread-safety: build() may be called from several threads at once.
#pragma once

#include <atomic>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/clock.h"
#include "engine/hl7v2/header.h"
#include "engine/hl7v2/parse_error.h"

namespace courier::hl7v2 {

// What happened to the message, independent of the acknowledgement mode.
enum class AckOutcome {
  kAccept,  // AA / CA: stored (or processed)
  kError,   // AE / CE: could not be stored or processed now (e.g. storage failure)
  kReject,  // AR / CR: will never be accepted as sent (unsupported, not allowed, malformed)
};

// The MSA-1 code for `outcome` in the header's acknowledgement mode: "AA", "CE", ...
std::string_view ackCode(const MessageHeader& original, AckOutcome outcome);

struct AckError {
  ErrorCondition condition = ErrorCondition::kApplicationError;
  std::string message;  // PHI-free; goes to ERR-8 (v2.5+) or ERR-1.4.2 / MSA-3 (older)
  ErrorLocation location;
  char severity = 'E';  // ERR-4: E error, W warning, I information
  static AckError from(const ParseError& e) { return {e.condition, e.message, e.location, 'E'}; }
};

class AckBuilder {
 public:
  // `id_prefix` starts every generated MSH-10 (e.g. a node name); ids are
  // unique within the process: prefix + start time + a process-wide counter.
  explicit AckBuilder(std::string id_prefix = "CR", Clock& clock = Clock::system());

  // The ACK bytes (segments terminated by '\r'), or nullopt when no ACK is to
  // be sent: the original is an ACK, or MSH-15 says not to for this outcome.
  std::optional<std::string> build(const MessageHeader& original, AckOutcome outcome,
                                   std::span<const AckError> errors = {}) const;

  // The application acknowledgement (AA / AE / AR), or nullopt when MSH-16 asks for none
  // in this case (NE, ER on success, SU on failure, empty) or the original is an ACK.
  std::optional<std::string> buildApplication(const MessageHeader& original, AckOutcome outcome,
                                              std::span<const AckError> errors = {}) const;

  // A fresh, process-unique control id.
  std::string nextControlId() const;
  // The same, appended to `out`.
  void appendControlId(std::string& out) const;

 private:
  std::string render(const MessageHeader& original, std::string_view code, std::span<const AckError> errors,
                     bool application) const;

  std::string prefix_;
  Clock& clock_;
};

}  // namespace courier::hl7v2
