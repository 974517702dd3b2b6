// Fuzz target (c): the YAML config loader (SPEC §5). Whatever the text and
// the SOCKETSHARK_* environment, load_settings_from_string returns settings or
// throws ConfigError, nothing else (an escaping exception aborts the fuzzer).
//
// Input: YAML text, optionally followed by a NUL byte and environment lines
// "NAME=VALUE" (the SOCKETSHARK_ prefix is added when missing).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "socketshark/config/loader.hpp"

namespace config = socketshark::config;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The embedded default config must load.
  try {
    (void)config::default_settings();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embedded default config does not load: %s\n", e.what());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  const std::size_t nul = input.find('\0');
  const std::string yaml(input.substr(0, nul));
  config::Environment env;
  if (nul != std::string_view::npos) {
    std::string_view rest = input.substr(nul + 1);
    while (!rest.empty()) {
      const std::size_t end = rest.find('\n');
      const std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      const std::size_t equals = line.find('=');
      if (equals == std::string_view::npos) continue;
      std::string name(line.substr(0, equals));
      if (!name.starts_with("SOCKETSHARK_")) name = "SOCKETSHARK_" + name;
      env[name] = std::string(line.substr(equals + 1));
    }
  }
  try {
    const config::Settings settings = config::load_settings_from_string(yaml, "fuzz.yaml", env);
    (void)settings;
  } catch (const config::ConfigError& error) {
    FUZZ_CHECK(!error.problems().empty());
    for (const auto& problem : error.problems()) FUZZ_CHECK(!problem.empty());
  }
  return 0;
}
