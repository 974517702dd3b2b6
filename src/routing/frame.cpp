#include "socketshark/routing/frame.hpp"

namespace socketshark::routing {

SharedFrame encode_text_frame(std::string_view payload) {
  auto frame = std::make_shared<std::string>();
  const std::size_t size = payload.size();
  frame->reserve(size + 10);
  frame->push_back(static_cast<char>(0x81));  // FIN + text
  if (size < 126) {
    frame->push_back(static_cast<char>(size));
  } else if (size <= 0xFFFF) {
    frame->push_back(static_cast<char>(126));
    frame->push_back(static_cast<char>(size >> 8));
    frame->push_back(static_cast<char>(size & 0xFF));
  } else {
    frame->push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) frame->push_back(static_cast<char>((size >> shift) & 0xFF));
  }
  frame->append(payload);
  return frame;
}

}  // namespace socketshark::routing
