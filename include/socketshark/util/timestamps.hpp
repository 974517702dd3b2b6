// ISO-8601 timestamps as SocketShark writes and reads them (Python 3.11 datetime).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace socketshark {

// Parses `text` exactly as Python 3.11's datetime.fromisoformat does and
// returns what Python's .isoformat() would print for the parsed value
// ("Z" becomes "+00:00", an offset is kept, microseconds printed only when
// non-zero, a naive value stays naive). nullopt when Python would raise.
std::optional<std::string> normalize_published_at(std::string_view text);

// datetime.now(timezone.utc).isoformat() for the given instant:
// "2026-11-25T11:45:09.123456+00:00" (no ".ffffff" when microseconds are 0).
std::string utc_isoformat(std::chrono::system_clock::time_point when);

}  // namespace socketshark
