#pragma once
#include <nlohmann/json.hpp>

namespace socketshark {
// Insertion-ordered JSON: replies keep SocketShark's key order (dicts built in order).
using Json = nlohmann::ordered_json;
}  // namespace socketshark
