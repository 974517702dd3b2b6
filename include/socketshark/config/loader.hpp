// YAML file + SOCKETSHARK_* environment -> validated Settings.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "socketshark/config/settings.hpp"

namespace socketshark::config {

// All problems found in one load, each a full line:
//   "<file>: <key.path>: <reason>"   (or "<file>:<line>:<col>: <reason>" for YAML syntax)
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

using Environment = std::map<std::string, std::string>;

// The process environment, restricted to SOCKETSHARK_* variables.
Environment process_environment();

// Parses `yaml_text` (named `source_name` in messages) with env overrides applied.
Settings load_settings_from_string(const std::string& yaml_text, const std::string& source_name,
                                   const Environment& env = {});

// Reads and parses a file; a missing/unreadable file is a ConfigError.
Settings load_settings_file(const std::string& path, const Environment& env = {});

// The embedded default used when no -c is given: config/dev.yaml compiled in.
Settings default_settings(const Environment& env = {});
const char* embedded_default_yaml();

}  // namespace socketshark::config
