// A client frame, classified as SocketShark's Event.from_data does.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "socketshark/util/json.hpp"

namespace socketshark::protocol {

enum class EventKind { not_json, invalid, unknown, auth, subscribe, message, unsubscribe, ping };

struct ClientEvent {
  EventKind kind = EventKind::not_json;
  std::string name;  // the `event` value (empty for not_json/invalid)
  Json data;         // the whole frame object (null for not_json/invalid)

  // `subscription` as the client gave it when it is a non-empty string ("" otherwise).
  std::string subscription() const;
};

// Events longer than this many characters are never echoed back.
inline constexpr std::size_t max_event_length = 40;
inline constexpr std::size_t max_ping_data_length = 128;

ClientEvent parse_client_event(std::string_view frame);

// Number of Unicode code points in UTF-8 text (Python's len()).
std::size_t utf8_length(std::string_view text);
// The first `max_chars` code points of UTF-8 text (Python's s[:n]).
std::string_view utf8_prefix(std::string_view text, std::size_t max_chars);

}  // namespace socketshark::protocol
