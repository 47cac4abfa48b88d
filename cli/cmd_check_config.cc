// courier check-config: load a config file exactly as `courier serve` does and report
// every problem at once, one `file:line:col: key: sentence` line each, on stderr.
// Exit 0 when the file is valid, 1 when it is not (2: bad usage, from CLI11).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/site_maps.h"
#include "engine/config/config.h"
#include "engine/routing/router.h"

namespace courier::cli {
namespace {

struct CheckConfigOptions {
  std::string file;
  std::string data_dir;
  bool skip_files = false;
};

int runCheckConfig(const CheckConfigOptions& o) {
  config::LoadOptions load;
  if (!o.data_dir.empty()) load.data_dir_override = o.data_dir;
  load.check_files = !o.skip_files;
  auto loaded = config::loadConfig(o.file, config::processEnv(), load);
  if (!loaded) {
    for (const auto& e : loaded.error()) std::fprintf(stderr, "%s\n", e.toString().c_str());
    std::fprintf(stderr, "%s: %zu problem%s found.\n", o.file.c_str(), loaded.error().size(),
                 loaded.error().size() == 1 ? "" : "s");
    return 1;
  }
  const config::Config& c = *loaded;
  // The routes as the pipeline compiles them (specialty names, HL7 paths of field tests).
  if (auto router = routing::Router::build(c); !router) {
    std::fprintf(stderr, "%s\n%s: 1 problem found.\n", router.error().toString().c_str(), o.file.c_str());
    return 1;
  }
  // The site maps' files, read and checked the way serve reads them.
  if (auto maps = loadSiteMaps(c); !maps) {
    for (const auto& e : maps.error()) std::fprintf(stderr, "%s\n", e.toString().c_str());
    std::fprintf(stderr, "%s: %zu problem%s found.\n", o.file.c_str(), maps.error().size(),
                 maps.error().size() == 1 ? "" : "s");
    return 1;
  }
  std::printf("%s: OK. Data directory %s, store %s, %zu listener%s", o.file.c_str(), c.data_dir.c_str(),
              c.store.sqlite_path.c_str(), c.listeners.size(), c.listeners.size() == 1 ? "" : "s");
  for (std::size_t i = 0; i < c.listeners.size(); ++i) {
    const auto& l = c.listeners[i];
    std::string tls = l.tls.enabled
                          ? "TLS, client certificates " + std::string(config::clientCertModeName(l.tls.client_certs))
                          : "no TLS";
    std::printf("%s %s on %s:%u (%s)", i == 0 ? ":" : ",", l.name.c_str(), l.address.c_str(),
                static_cast<unsigned>(l.port), tls.c_str());
  }
  std::printf(".\n");
  if (!c.destinations.empty() || !c.routes.empty()) {
    std::printf("%zu destination%s, %zu route%s%s.\n", c.destinations.size(), c.destinations.size() == 1 ? "" : "s",
                c.routes.size(), c.routes.size() == 1 ? "" : "s", c.pipeline.enabled ? "" : " (pipeline disabled)");
  }
  return 0;
}

}  // namespace

void addCheckConfigCommand(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<CheckConfigOptions>();
  CLI::App* cmd = app.add_subcommand(
      "check-config",
      "Validate a config file and print every problem as file:line:col (exit 0 when valid, 1 when not).");
  cmd->add_option("file", opt->file, "the YAML config file, e.g. deploy/courier.yaml")->required();
  cmd->add_option("--data-dir", opt->data_dir,
                  "use this data directory instead of the file's data_dir (relative paths follow it)");
  cmd->add_flag("--skip-files", opt->skip_files,
                "do not check that certificate and key files exist (`courier serve` creates the "
                "development ones on first run)");
  cmd->callback([opt, &exit_code] { exit_code = runCheckConfig(*opt); });
}

}  // namespace courier::cli
