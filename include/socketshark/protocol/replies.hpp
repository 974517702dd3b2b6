// Reply frames, with SocketShark's key order (Event.send_ok / send_error).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "socketshark/util/json.hpp"

namespace socketshark::protocol {

// {"status":"error","error":"Messages must be JSON and contain an event field."}
std::string invalid_event_reply();

// {"event":"pong","data":D}
std::string pong_reply(const Json& ping_frame);

// {"event":E,"status":"ok"} + extra + "data" (when given) + "subscription" (when non-empty).
std::string ok_reply(std::string_view event, const Json* extra_data, const Json* data,
                     std::string_view subscription);

// {"event":E,"status":"error","error":T} + extra + "data" (when given) + "subscription".
std::string error_reply(std::string_view event, std::string_view error, const Json* extra_data,
                        const Json* data, std::string_view subscription);

// {"event":"unsubscribe","subscription":S} + "data" (non-null) + "error" + extra:
// sent when periodic authorization revokes a subscription. `error` is the
// authorizer's `error` as it answered it (normally a string).
std::string unsubscribe_notice(std::string_view subscription, const Json* data, const Json& error,
                               const Json& extra_data);

// Compact JSON as sent on the wire; invalid UTF-8 is replaced, never thrown.
std::string to_wire(const Json& value);

}  // namespace socketshark::protocol
