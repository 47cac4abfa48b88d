// The `courier` commands. Each command registers itself on the CLI11 app and
// sets the exit code through the shared int when it runs. main.cc holds the
// one hand-written list of commands (no self-registering statics).
#pragma once

#include <CLI/CLI.hpp>

namespace courier::cli {

// Each add*Command adds a subcommand to `app`; when that subcommand runs it
// stores its process exit code in `exit_code`.
void addParseCommand(CLI::App& app, int& exit_code);
void addCodeCommand(CLI::App& app, int& exit_code);
void addServeCommand(CLI::App& app, int& exit_code);
void addSendCommand(CLI::App& app, int& exit_code);
void addCheckConfigCommand(CLI::App& app, int& exit_code);
void addMessagesCommand(CLI::App& app, int& exit_code);
void addConvertCommand(CLI::App& app, int& exit_code);
void addOutboxCommand(CLI::App& app, int& exit_code);
void addWorklistCommand(CLI::App& app, int& exit_code);

}  // namespace courier::cli
