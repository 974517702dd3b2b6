// Structured logging on spdlog: one line per record, JSON or console.
// JSON: {"time":"2026-11-25T11:45:09.123456Z","level":"info","message":"ready","host":"127.0.0.1",...}
// Console: 2026-11-25 11:45:09.123 INFO  ready host=127.0.0.1 port=9000
#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

#include <spdlog/common.h>

#include "socketshark/config/settings.hpp"
#include "socketshark/util/json.hpp"

namespace socketshark::log {

using Field = std::pair<std::string_view, Json>;
using Fields = std::initializer_list<Field>;

// Configures the process logger (stderr) from settings; safe to call again.
void setup(const config::LogSettings& settings);

// level names: DEBUG, INFO, WARNING (or WARN), ERROR, CRITICAL, any case.
bool valid_level_name(std::string_view name);

void write(spdlog::level::level_enum level, std::string_view message, Fields fields = {});
inline void debug(std::string_view m, Fields f = {}) { write(spdlog::level::debug, m, f); }
inline void info(std::string_view m, Fields f = {}) { write(spdlog::level::info, m, f); }
inline void warn(std::string_view m, Fields f = {}) { write(spdlog::level::warn, m, f); }
inline void error(std::string_view m, Fields f = {}) { write(spdlog::level::err, m, f); }

bool enabled(spdlog::level::level_enum level);
// Per-event traces (log.trace_level: DEBUG); cheap to test on the hot path.
bool trace_enabled();
inline void trace(std::string_view m, Fields f = {}) {
  if (trace_enabled()) write(spdlog::level::debug, m, f);
}

}  // namespace socketshark::log
