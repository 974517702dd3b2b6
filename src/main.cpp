// socketshark: command line, configuration, logging, then the daemon.
#include <cstring>
#include <iostream>
#include <string>

#include "socketshark/app.hpp"
#include "socketshark/config/loader.hpp"
#include "socketshark/util/logging.hpp"

namespace {

constexpr int exit_usage = 2;
constexpr int exit_config = 2;

void print_usage(std::ostream& out) {
  out << "usage: socketshark [-c CONFIG.yaml] [--check] [--version]\n"
         "\n"
         "  -c, --config FILE  configuration (YAML); without it the embedded\n"
         "                     development default (config/dev.yaml) is used\n"
         "      --check        validate the configuration and exit\n"
         "      --version      print the version and exit\n"
         "\n"
         "Environment: SOCKETSHARK_<KEY>[__<KEY>...] overrides a key, e.g.\n"
         "SOCKETSHARK_REDIS__HOST=redis.\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(std::strlen("--config="));
    } else if (arg == "--check") {
      check_only = true;
    } else if (arg == "--version") {
      std::cout << "socketshark " << SOCKETSHARK_VERSION << "\n";
      return 0;
    } else if (arg == "-h" || arg == "--help") {
      print_usage(std::cout);
      return 0;
    } else {
      std::cerr << "socketshark: unexpected argument '" << arg << "'\n";
      print_usage(std::cerr);
      return exit_usage;
    }
  }

  socketshark::config::Settings settings;
  try {
    auto env = socketshark::config::process_environment();
    settings = config_path.empty() ? socketshark::config::default_settings(env)
                                   : socketshark::config::load_settings_file(config_path, env);
  } catch (const socketshark::config::ConfigError& e) {
    for (const auto& problem : e.problems()) std::cerr << problem << "\n";
    return exit_config;
  }
  const std::string source = config_path.empty() ? "embedded default (config/dev.yaml)" : config_path;
  if (check_only) {
    std::cout << source << ": configuration OK\n";
    return 0;
  }

  socketshark::log::setup(settings.log);
  socketshark::log::info("starting", {{"version", SOCKETSHARK_VERSION}, {"config", source}});
  for (const auto& variable : settings.ignored_environment)
    socketshark::log::warn("environment variable names no setting, ignored", {{"variable", variable}});
  try {
    socketshark::App app(std::move(settings));
    return app.run();
  } catch (const std::exception& e) {
    socketshark::log::error("fatal", {{"error", e.what()}});
    return 1;
  }
}
