// courier: the one program. It wires the engine and the adapters; the list of
// commands below is the only place that knows all of them.
#include <csignal>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Courier: an HL7 v2 / FHIR R4 integration engine.\n"
      "Receives messages over MLLP/TLS and HTTPS, stores them durably, codes and routes them.\n"
      "Run `courier COMMAND --help` for the options of a command."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("courier 0.1.0"));
  // A closed pipe (`courier parse … | head`) must end the program quietly, not by a signal.
  std::signal(SIGPIPE, SIG_IGN);
  int exit_code = 0;

  courier::cli::addParseCommand(app, exit_code);
  courier::cli::addCodeCommand(app, exit_code);
  courier::cli::addServeCommand(app, exit_code);
  courier::cli::addSendCommand(app, exit_code);
  courier::cli::addCheckConfigCommand(app, exit_code);
  courier::cli::addMessagesCommand(app, exit_code);
  courier::cli::addConvertCommand(app, exit_code);
  courier::cli::addOutboxCommand(app, exit_code);
  courier::cli::addWorklistCommand(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
