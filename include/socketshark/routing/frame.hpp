// A complete server-to-client WebSocket frame (header + payload). Server frames
// are unmasked, so one encoding serves every recipient: it is shared, never copied.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace socketshark::routing {

using SharedFrame = std::shared_ptr<const std::string>;

// Encodes an unmasked, final text frame around `payload`.
SharedFrame encode_text_frame(std::string_view payload);

}  // namespace socketshark::routing
