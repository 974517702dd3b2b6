// Fuzz target (d): an HTTP callback answer handled as the daemon handles it
// (SPEC §1, §2). The HTTP client itself (src/callbacks/http_client.cpp) is a
// Beast TU and stays out; this is its pure part: the body parsed with
// parse_untrusted_json (at most 256 levels) and refused unless it is an object,
// then what the event handler reads from it (status, error, data, auth and
// authorizer fields, a before_subscribe answer as a message with options),
// plus the two value readers that see service-provided text:
// normalize_published_at and python_float.
//
// Oracles: nothing crashes; every reply and every request body built from the
// answer is valid UTF-8 JSON carrying the answer's values; a normalized
// published_at is a fixed point and needs no JSON escaping; python_float
// agrees with a correctly rounded strtod on plain decimal text and ignores
// surrounding whitespace.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_common.hpp"
#include "socketshark/protocol/errors.hpp"
#include "socketshark/protocol/replies.hpp"
#include "socketshark/routing/filters.hpp"
#include "socketshark/routing/message.hpp"
#include "socketshark/routing/message_options.hpp"
#include "socketshark/util/timestamps.hpp"

using socketshark::Json;
using socketshark::truthy;
namespace protocol = socketshark::protocol;
namespace routing = socketshark::routing;

namespace {

bool same_double(std::optional<double> a, std::optional<double> b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  if (std::isnan(*a) || std::isnan(*b)) return std::isnan(*a) && std::isnan(*b);
  return std::memcmp(&*a, &*b, sizeof(double)) == 0;
}

void check_published_at(std::string_view text) {
  const auto normalized = socketshark::normalize_published_at(text);
  if (!normalized) return;
  FUZZ_CHECK(!normalized->empty());
  for (char c : *normalized)  // spliced into frames without escaping
    FUZZ_CHECK((c >= '0' && c <= '9') || c == '-' || c == ':' || c == '.' || c == '+' || c == 'T');
  const auto again = socketshark::normalize_published_at(*normalized);
  FUZZ_CHECK(again && *again == *normalized);
}

bool plain_decimal(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) return false;
  return true;
}

void check_python_float(const std::string& text) {
  const auto value = routing::python_float(Json(text));
  // Python strips surrounding whitespace.
  FUZZ_CHECK(same_double(routing::python_float(Json(" \t" + text + "\n ")), value));
  if (plain_decimal(text)) {
    char* end = nullptr;
    const double reference = std::strtod(text.c_str(), &end);
    const bool whole = end == text.c_str() + text.size();
    if (value) {
      FUZZ_CHECK(whole);
      FUZZ_CHECK(same_double(value, reference));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(bytes), size);
  check_published_at(body);
  check_python_float(body);

  const Json extra = {{"extra", "e"}};
  const std::string subscription = "service.topic";
  const Json answer = socketshark::parse_untrusted_json(body);  // as the HTTP client does
  if (answer.is_discarded() || !answer.is_object()) {
    // An unexpected failure: "Unhandled exception." and the connection closes.
    const Json reply = fuzz::parse_wire(
        protocol::error_reply("subscribe", protocol::errors::unhandled, &extra, nullptr, subscription));
    FUZZ_CHECK(reply.at("error") == protocol::errors::unhandled);
    return 0;
  }

  auto status = answer.find("status");
  const bool ok = status != answer.end() && *status == "ok";
  auto data_it = answer.find("data");
  const Json* data = data_it != answer.end() ? &*data_it : nullptr;

  if (ok) {
    const Json reply = fuzz::parse_wire(protocol::ok_reply("subscribe", &extra, data, subscription));
    FUZZ_CHECK(reply.at("status") == "ok");
    if (data && !data->is_null()) FUZZ_CHECK(reply.at("data") == *data);
    else FUZZ_CHECK(!reply.contains("data"));
  } else {
    // EventHandler::Reply::error: the answer's `error` (any JSON) else the fallback.
    auto error = answer.find("error");
    Json reply = Json::object();
    reply["event"] = "subscribe";
    reply["status"] = "error";
    reply["error"] = error != answer.end() ? *error : Json(protocol::errors::unauthorized);
    for (auto& [key, value] : extra.items()) reply[key] = value;
    if (data && truthy(*data)) reply["data"] = *data;
    reply["subscription"] = subscription;
    FUZZ_CHECK(fuzz::parse_wire(protocol::to_wire(reply)) == reply);
  }

  // Auth info and authorizer data copied from the answer, then a service
  // request body built from them: {"subscription":S} + extra + authorizer + auth.
  Json auth_info = Json::object();
  Json authorizer_data = Json::object();
  for (const char* field : {"session_id", "user_id"})
    if (auto it = answer.find(field); it != answer.end()) auth_info[field] = *it;
  if (auto it = answer.find("capabilities"); it != answer.end()) authorizer_data["capabilities"] = *it;
  Json request = {{"subscription", subscription}};
  for (const Json* part : {&extra, static_cast<const Json*>(&authorizer_data), static_cast<const Json*>(&auth_info)})
    for (auto& [key, value] : part->items()) request[key] = value;
  if (data) request["data"] = *data;
  FUZZ_CHECK(fuzz::parse_wire(protocol::to_wire(request)) == request);

  // A before_subscribe answer is the message the subscribe reply is filtered as.
  const routing::MessagePtr message = routing::message_from_json(answer, false);
  FUZZ_CHECK(!message->published_at);
  routing::OrderState order;
  FUZZ_CHECK(order.accept(message->options));
  const std::vector<std::string> filter_fields = {"session_id", "user_id", "extra"};
  (void)routing::filter_fields_match(message->body, filter_fields, {"extra"}, extra, auth_info);
  FUZZ_CHECK(routing::filter_fields_match(message->body, filter_fields, {"extra"}, answer, answer));

  // Values a service controls, read as the daemon reads them.
  for (auto& [key, value] : answer.items()) {
    (void)routing::python_float(value);
    (void)routing::key_of(value);
    if (value.is_string()) {
      check_published_at(value.get_ref<const std::string&>());
      check_python_float(value.get_ref<const std::string&>());
    }
  }
  if (auto options = answer.find("options"); options != answer.end() && options->is_object()) {
    for (auto& [key, value] : options->items()) {
      (void)routing::python_float(value);
      if (value.is_string()) check_python_float(value.get_ref<const std::string&>());
    }
  }
  return 0;
}
