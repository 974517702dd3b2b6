#include "socketshark/protocol/replies.hpp"

#include "socketshark/protocol/client_event.hpp"
#include "socketshark/protocol/errors.hpp"

namespace socketshark::protocol {

std::string to_wire(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string invalid_event_reply() {
  static const std::string reply = to_wire(Json{{"status", "error"}, {"error", errors::invalid_event}});
  return reply;
}

std::string pong_reply(const Json& ping_frame) {
  Json reply = Json::object();
  reply["event"] = "pong";
  reply["data"] = nullptr;
  auto data = ping_frame.find("data");
  if (data != ping_frame.end() && data->is_string())
    reply["data"] = std::string(utf8_prefix(data->get_ref<const std::string&>(), max_ping_data_length));
  return to_wire(reply);
}

namespace {

// Event.send_ok/send_error: msg.update(extra); msg["data"]; msg.update({"subscription": S}).
void append_tail(Json& reply, const Json* extra_data, const Json* data, std::string_view subscription) {
  if (extra_data && extra_data->is_object())
    for (auto& [key, value] : extra_data->items()) reply[key] = value;
  if (data && !data->is_null()) reply["data"] = *data;  // Python: `if data is not None`
  if (!subscription.empty()) reply["subscription"] = subscription;
}

}  // namespace

std::string ok_reply(std::string_view event, const Json* extra_data, const Json* data,
                     std::string_view subscription) {
  Json reply = Json::object();
  reply["event"] = event;
  reply["status"] = "ok";
  append_tail(reply, extra_data, data, subscription);
  return to_wire(reply);
}

std::string error_reply(std::string_view event, std::string_view error, const Json* extra_data,
                        const Json* data, std::string_view subscription) {
  Json reply = Json::object();
  reply["event"] = event;
  reply["status"] = "error";
  reply["error"] = error;
  append_tail(reply, extra_data, data, subscription);
  return to_wire(reply);
}

std::string unsubscribe_notice(std::string_view subscription, const Json* data, const Json& error,
                               const Json& extra_data) {
  Json notice = Json::object();
  notice["event"] = "unsubscribe";
  notice["subscription"] = subscription;
  if (data && !data->is_null()) notice["data"] = *data;
  notice["error"] = error;
  if (extra_data.is_object())
    for (auto& [key, value] : extra_data.items()) notice[key] = value;
  return to_wire(notice);
}

}  // namespace socketshark::protocol
