// Structured logging on spdlog. spdlog only carries finished lines (pattern
// "%v"); the line itself, JSON or console, is built here so that its format
// does not depend on spdlog's pattern language.
#include "socketshark/util/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

namespace socketshark::log {

namespace {

enum class Format { json, console };

std::atomic<Format> current_format{Format::json};
std::atomic<bool> traces_wanted{false};

spdlog::logger& process_logger() {
  // Built once and never replaced: setup() only changes its level and our
  // format flags, so concurrent writers never see a dangling logger.
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto created = std::make_shared<spdlog::logger>(
        "socketshark", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    created->set_pattern("%v");
    created->set_level(spdlog::level::info);
    return created;
  }();
  return *logger;
}

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
  const std::string key = upper(name);
  if (key == "DEBUG") return spdlog::level::debug;
  if (key == "INFO") return spdlog::level::info;
  if (key == "WARNING" || key == "WARN") return spdlog::level::warn;
  if (key == "ERROR") return spdlog::level::err;
  if (key == "CRITICAL") return spdlog::level::critical;
  return std::nullopt;
}

// Python's logging names, as SocketShark's records carry them.
std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warning";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "info";
  }
}

struct UtcTime {
  std::tm calendar;
  long microseconds;
};

UtcTime utc_now() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const long microseconds = static_cast<long>(
      duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000);
  UtcTime time{};
  gmtime_r(&seconds, &time.calendar);
  time.microseconds = microseconds < 0 ? microseconds + 1000000 : microseconds;
  return time;
}

std::string dump(const Json& value) {
  // Replacing invalid UTF-8 keeps a log call from ever throwing.
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string json_line(spdlog::level::level_enum level, std::string_view message, Fields fields) {
  const UtcTime time = utc_now();
  Json record;
  record["time"] = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                               time.calendar.tm_year + 1900, time.calendar.tm_mon + 1,
                               time.calendar.tm_mday, time.calendar.tm_hour, time.calendar.tm_min,
                               time.calendar.tm_sec, time.microseconds);
  record["level"] = level_name(level);
  record["message"] = std::string(message);
  for (const auto& [key, value] : fields) {
    std::string name(key);
    // A field must not overwrite the record's own keys.
    while (record.contains(name)) name.insert(0, "_");
    record[name] = value;
  }
  return dump(record);
}

// Console text stays on one line: control characters are escaped.
void append_escaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
}

bool needs_quotes(const std::string& text) {
  return text.empty() || std::any_of(text.begin(), text.end(), [](unsigned char c) {
           return c <= ' ' || c == '"' || c == '=' || c == 0x7f;
         });
}

std::string console_line(spdlog::level::level_enum level, std::string_view message, Fields fields) {
  const UtcTime time = utc_now();
  std::string line = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} {:<5} ",
                                 time.calendar.tm_year + 1900, time.calendar.tm_mon + 1,
                                 time.calendar.tm_mday, time.calendar.tm_hour, time.calendar.tm_min,
                                 time.calendar.tm_sec, time.microseconds / 1000,
                                 upper(level_name(level)));
  append_escaped(line, message);
  for (const auto& [key, value] : fields) {
    line += ' ';
    append_escaped(line, key);
    line += '=';
    if (value.is_string() && !needs_quotes(value.get_ref<const std::string&>())) {
      line += value.get_ref<const std::string&>();
    } else {
      line += dump(value);
    }
  }
  return line;
}

}  // namespace

void setup(const config::LogSettings& settings) {
  const auto level = parse_level(settings.level).value_or(spdlog::level::info);
  process_logger().set_level(level);
  current_format = settings.format == "console" ? Format::console : Format::json;
  const bool debug_traces = parse_level(settings.trace_level) == spdlog::level::debug;
  traces_wanted = debug_traces && level <= spdlog::level::debug;
}

bool valid_level_name(std::string_view name) { return parse_level(name).has_value(); }

void write(spdlog::level::level_enum level, std::string_view message, Fields fields) {
  spdlog::logger& logger = process_logger();
  if (!logger.should_log(level)) return;
  try {
    const std::string line = current_format == Format::console
                                 ? console_line(level, message, fields)
                                 : json_line(level, message, fields);
    logger.log(level, std::string_view(line));
  } catch (...) {
    // Logging must never take the daemon down; a lost line is the lesser harm.
  }
}

bool enabled(spdlog::level::level_enum level) { return process_logger().should_log(level); }

bool trace_enabled() { return traces_wanted.load(std::memory_order_relaxed); }

}  // namespace socketshark::log
