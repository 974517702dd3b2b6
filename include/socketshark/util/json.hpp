#pragma once
#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

namespace socketshark {
// Insertion-ordered JSON: replies keep SocketShark's key order (dicts built in order).
using Json = nlohmann::ordered_json;

// Nesting deeper than this is refused: nlohmann's dump and copy recurse, so a
// hostile document (from a client, a service, a publisher) must not reach them.
inline constexpr std::size_t max_json_depth = 256;

// Parses untrusted JSON: a discarded value (is_discarded()) when it is not
// JSON or nests deeper than max_json_depth. Never throws.
Json parse_untrusted_json(std::string_view text);

// Python's truthiness of a JSON value, as SocketShark tests it (`if data:`):
// null, false, 0, 0.0, "", [] and {} are false.
bool truthy(const Json& value);
}  // namespace socketshark
