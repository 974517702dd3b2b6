#include "socketshark/protocol/client_event.hpp"

namespace socketshark::protocol {

namespace {

EventKind kind_of(std::string_view name) {
  if (name == "auth") return EventKind::auth;
  if (name == "subscribe") return EventKind::subscribe;
  if (name == "message") return EventKind::message;
  if (name == "unsubscribe") return EventKind::unsubscribe;
  if (name == "ping") return EventKind::ping;
  return EventKind::unknown;
}

}  // namespace

std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++count;  // count lead bytes only
  return count;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) return text.substr(0, i);
      ++chars;
    }
  }
  return text;
}

std::string ClientEvent::subscription() const {
  if (!data.is_object()) return {};
  auto it = data.find("subscription");
  if (it == data.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

ClientEvent parse_client_event(std::string_view frame) {
  ClientEvent event;
  Json parsed = parse_untrusted_json(frame);
  if (parsed.is_discarded()) return event;  // not_json (or nested too deep)

  event.kind = EventKind::invalid;
  if (!parsed.is_object()) return event;
  auto name = parsed.find("event");
  if (name == parsed.end() || !name->is_string()) return event;
  const std::string& text = name->get_ref<const std::string&>();
  if (utf8_length(text) > max_event_length) return event;

  event.kind = kind_of(text);
  event.name = text;
  event.data = std::move(parsed);
  return event;
}

}  // namespace socketshark::protocol
