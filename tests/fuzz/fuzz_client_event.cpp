// Fuzz target (a): a client frame through event parsing and every reply the
// event handler can build from it (SPEC §1).
//
// Oracles: nothing crashes (ASan/UBSan); a frame nlohmann does not accept is
// never an event; invalid frames carry no name and no data; an accepted event
// is an object whose `event` is a string of at most 40 characters naming its
// kind; every reply is valid UTF-8 JSON with SocketShark's keys and values.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "socketshark/protocol/client_event.hpp"
#include "socketshark/protocol/errors.hpp"
#include "socketshark/protocol/replies.hpp"

using socketshark::Json;
namespace protocol = socketshark::protocol;
using protocol::EventKind;

namespace {

constexpr const char* kErrorTexts[] = {
    protocol::errors::invalid_event,      protocol::errors::unhandled,
    protocol::errors::unknown_event,      protocol::errors::service_unavailable,
    protocol::errors::auth_method,        protocol::errors::unauthorized,
    protocol::errors::needs_ticket,       protocol::errors::auth_failed,
    protocol::errors::auth_required,      protocol::errors::bad_subscription,
    protocol::errors::bad_service,        protocol::errors::already_subscribed,
    protocol::errors::not_subscribed,     protocol::errors::too_many_subscriptions,
    protocol::errors::rate_limited,
};

EventKind expected_kind(const std::string& name) {
  if (name == "auth") return EventKind::auth;
  if (name == "subscribe") return EventKind::subscribe;
  if (name == "message") return EventKind::message;
  if (name == "unsubscribe") return EventKind::unsubscribe;
  if (name == "ping") return EventKind::ping;
  return EventKind::unknown;
}

// Event.send_ok / send_error in SocketShark: a dict built in order, then
// msg.update(extra), msg["data"] = data (when not None), msg["subscription"].
Json model_reply(const std::string& event, const char* status, const char* error, const Json& extra,
                 const Json* data, const std::string& subscription) {
  Json reply = Json::object();
  reply["event"] = event;
  reply["status"] = status;
  if (error) reply["error"] = error;
  for (auto& [key, value] : extra.items()) reply[key] = value;
  if (data && !data->is_null()) reply["data"] = *data;
  if (!subscription.empty()) reply["subscription"] = subscription;
  return reply;
}

void check_utf8_helpers(std::string_view text) {
  const std::size_t length = protocol::utf8_length(text);
  FUZZ_CHECK(length <= text.size());
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{40}, protocol::max_ping_data_length}) {
    const std::string_view prefix = protocol::utf8_prefix(text, n);
    FUZZ_CHECK(prefix.data() == text.data());
    FUZZ_CHECK(prefix.size() <= text.size());
    FUZZ_CHECK(protocol::utf8_length(prefix) == std::min(n, length));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(bytes), size);
  check_utf8_helpers(frame);

  const protocol::ClientEvent event = protocol::parse_client_event(frame);
  const bool accepted = Json::accept(frame);
  if (!accepted) FUZZ_CHECK(event.kind == EventKind::not_json);

  if (event.kind == EventKind::not_json || event.kind == EventKind::invalid) {
    if (event.kind == EventKind::invalid) FUZZ_CHECK(accepted);
    FUZZ_CHECK(event.name.empty());
    FUZZ_CHECK(event.data.is_null());
    FUZZ_CHECK(event.subscription().empty());
    const Json reply = fuzz::parse_wire(protocol::invalid_event_reply());
    FUZZ_CHECK(reply == Json({{"status", "error"}, {"error", protocol::errors::invalid_event}}));
    return 0;
  }

  // An event: an object with a string `event` of at most 40 code points.
  FUZZ_CHECK(accepted);
  FUZZ_CHECK(event.data.is_object());
  auto name_it = event.data.find("event");
  FUZZ_CHECK(name_it != event.data.end() && name_it->is_string());
  FUZZ_CHECK(*name_it == event.name);
  FUZZ_CHECK(protocol::utf8_length(event.name) <= protocol::max_event_length);
  FUZZ_CHECK(event.kind == expected_kind(event.name));
  // The frame's values survive the wire encoding unchanged.
  FUZZ_CHECK(fuzz::parse_wire(protocol::to_wire(event.data)) == event.data);

  const std::string subscription = event.subscription();
  if (!subscription.empty()) FUZZ_CHECK(event.data.at("subscription") == subscription);

  if (event.kind == EventKind::ping) {
    const Json pong = fuzz::parse_wire(protocol::pong_reply(event.data));
    FUZZ_CHECK(pong.is_object() && pong.size() == 2);
    FUZZ_CHECK(pong.begin().key() == "event" && pong.at("event") == "pong");
    auto data = event.data.find("data");
    if (data != event.data.end() && data->is_string()) {
      const std::string& sent = data->get_ref<const std::string&>();
      FUZZ_CHECK(pong.at("data").is_string());
      const std::string& echoed = pong.at("data").get_ref<const std::string&>();
      FUZZ_CHECK(sent.compare(0, echoed.size(), echoed) == 0);
      FUZZ_CHECK(protocol::utf8_length(echoed) ==
                 std::min(protocol::utf8_length(sent), protocol::max_ping_data_length));
    } else {
      FUZZ_CHECK(pong.at("data").is_null());
    }
  }

  // Every reply the handler may send about this event, with the event's own
  // fields as extra data (as a service with extra_fields [extra, data] gets).
  Json extra = Json::object();
  for (const char* field : {"extra", "data", "status"}) {
    auto it = event.data.find(field);
    if (it != event.data.end()) extra[field] = *it;
  }
  auto data_it = event.data.find("data");
  const Json* data = data_it != event.data.end() ? &*data_it : nullptr;
  const Json no_extra = Json::object();

  for (const Json* extra_data : {&no_extra, static_cast<const Json*>(&extra)}) {
    for (const Json* reply_data : {static_cast<const Json*>(nullptr), data}) {
      const Json ok = fuzz::parse_wire(protocol::ok_reply(event.name, extra_data, reply_data, subscription));
      FUZZ_CHECK(ok == model_reply(event.name, "ok", nullptr, *extra_data, reply_data, subscription));
      for (const char* text : kErrorTexts) {
        const Json err =
            fuzz::parse_wire(protocol::error_reply(event.name, text, extra_data, reply_data, subscription));
        FUZZ_CHECK(err == model_reply(event.name, "error", text, *extra_data, reply_data, subscription));
      }
    }
    if (!subscription.empty()) {
      const Json notice = fuzz::parse_wire(
          protocol::unsubscribe_notice(subscription, data, protocol::errors::unauthorized, *extra_data));
      FUZZ_CHECK(notice.begin().key() == "event" && notice.is_object());
      Json expect = Json::object();
      expect["event"] = "unsubscribe";
      expect["subscription"] = subscription;
      if (data && !data->is_null()) expect["data"] = *data;
      expect["error"] = protocol::errors::unauthorized;
      for (auto& [key, value] : extra_data->items()) expect[key] = value;
      FUZZ_CHECK(notice == expect);
    }
  }
  return 0;
}
