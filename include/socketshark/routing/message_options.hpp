// `options` of a published message (SPEC §3): order and throttle.
#pragma once

#include <optional>
#include <string>

#include "socketshark/util/json.hpp"

namespace socketshark::routing {

// Python's float(value) for a JSON value: numbers; true/false as 1/0; strings
// holding a decimal or exponent number (surrounding whitespace, '_' between
// digits), "inf"/"infinity"/"nan" in any case with optional sign. nullopt when
// Python would raise (null, objects, arrays, other strings).
std::optional<double> python_float(const Json& value);

struct MessageOptions {
  std::optional<double> order;
  std::string order_key;  // canonical key (see key_of); "null" when absent
  std::optional<double> throttle;
  std::string throttle_key;
};

// Canonical map key for an order/throttle key JSON value (its compact dump):
// null and a missing key are the same key, as in SocketShark.
std::string key_of(const Json& value);

// Reads message["options"]; a missing or non-object options means no options.
MessageOptions parse_options(const Json& message);

}  // namespace socketshark::routing
