// Fuzz target (b): a message from the broker through parsing, filtering and
// encoding (SPEC §3): parse_published, filter_fields_match, OrderState,
// ThrottleState, message_frame_payload for each Route, encode_text_frame.
//
// Input: byte 0 chooses the variant (received_at / queue_size present, which
// extra data, throttle clock steps); the rest is the broker payload.
//
// Oracles: nothing crashes; text nlohmann rejects is `not_json`; a delivered
// frame is valid UTF-8 JSON whose fast (spliced) encoding equals the slow
// (dict.update) one, with the timestamps of its route; the WebSocket header
// encodes the payload length; filter fields are reflexive (a session whose
// auth info/extra data is the message itself always matches) and an empty
// session matches exactly the messages whose filter fields are null; an
// order is never accepted twice; throttle hands back the latest pending one.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "socketshark/routing/filters.hpp"
#include "socketshark/routing/frame.hpp"
#include "socketshark/routing/message.hpp"
#include "socketshark/routing/message_options.hpp"

using socketshark::Json;
namespace routing = socketshark::routing;

namespace {

constexpr std::string_view kReceivedAt = "2026-11-25T11:45:09.123456+00:00";
constexpr std::string_view kSentAt = "2026-11-25T11:45:09.654321+00:00";

void check_frame_header(const std::string& payload) {
  const routing::SharedFrame frame = routing::encode_text_frame(payload);
  FUZZ_CHECK(frame && frame->size() >= 2);
  const auto* bytes = reinterpret_cast<const unsigned char*>(frame->data());
  FUZZ_CHECK(bytes[0] == 0x81);
  FUZZ_CHECK((bytes[1] & 0x80) == 0);  // server frames are never masked
  std::size_t length = bytes[1] & 0x7F;
  std::size_t header = 2;
  if (length == 126) {
    FUZZ_CHECK(frame->size() >= 4);
    length = (std::size_t{bytes[2]} << 8) | bytes[3];
    FUZZ_CHECK(length >= 126);
    header = 4;
  } else if (length == 127) {
    FUZZ_CHECK(frame->size() >= 10);
    length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | bytes[i];
    FUZZ_CHECK(length > 0xFFFF);
    header = 10;
  }
  FUZZ_CHECK(length == payload.size());
  FUZZ_CHECK(frame->size() == header + payload.size());
  FUZZ_CHECK(frame->compare(header, std::string::npos, payload) == 0);
}

void check_frames(const routing::PublishedMessage& message, const Json& extra) {
  const std::string fragment = routing::extra_fragment(extra);
  const bool collides = routing::extra_collides_with_frame(extra);
  for (routing::Route route : {routing::Route::broker, routing::Route::buffered, routing::Route::throttled}) {
    const std::string fast = routing::message_frame_payload(message, route, extra, fragment, collides, kSentAt);
    const std::string slow = routing::message_frame_payload(message, route, extra, "", true, kSentAt);
    const Json frame = fuzz::parse_wire(fast);
    const Json reference = fuzz::parse_wire(slow);
    FUZZ_CHECK(frame == reference);
    FUZZ_CHECK(frame.is_object());
    if (!collides) {
      FUZZ_CHECK(frame.begin().key() == "event" && frame.at("event") == "message");
      FUZZ_CHECK(frame.at("subscription") == message.body.at("subscription"));
      FUZZ_CHECK(frame.at("data") == message.body.at("data"));
      FUZZ_CHECK(frame.at("sent_at") == kSentAt);
      const bool published = route != routing::Route::throttled && message.published_at.has_value();
      FUZZ_CHECK(frame.contains("published_at") == published);
      const bool received = route == routing::Route::broker && !message.received_at.empty();
      FUZZ_CHECK(frame.contains("received_at") == received);
      FUZZ_CHECK(frame.contains("queue_size") == (received && message.queue_size.has_value()));
      for (auto& [key, value] : extra.items()) FUZZ_CHECK(frame.at(key) == value);
    }
    check_frame_header(fast);
  }
}

void check_filters(const Json& body) {
  std::vector<std::string> filter_fields;
  std::vector<std::string> extra_fields;
  std::size_t i = 0;
  for (auto& [key, value] : body.items()) {
    if (i++ >= 8) break;
    filter_fields.push_back(key);
    if (i % 2 == 0) extra_fields.push_back(key);
  }
  filter_fields.push_back("not_in_the_message");
  // Reflexive: the message's own values match it.
  FUZZ_CHECK(routing::filter_fields_match(body, filter_fields, extra_fields, body, body));
  // An empty session: auth info and extra data read as null.
  bool all_null = true;
  for (const auto& field : filter_fields) {
    auto it = body.find(field);
    if (it != body.end() && !it->is_null()) all_null = false;
  }
  const Json empty = Json::object();
  FUZZ_CHECK(routing::filter_fields_match(body, filter_fields, extra_fields, empty, empty) == all_null);
  FUZZ_CHECK(routing::filter_fields_match(body, filter_fields, extra_fields, Json(), Json(42)) == all_null);
  // Auth info / extra data published inside the message itself.
  auto auth = body.find("auth");
  auto extra = body.find("extra");
  (void)routing::filter_fields_match(body, filter_fields, extra_fields,
                                     extra != body.end() ? *extra : Json(), auth != body.end() ? *auth : Json());
  // No filter fields: everything matches.
  FUZZ_CHECK(routing::filter_fields_match(body, {}, extra_fields, empty, empty));
}

void check_order(const routing::MessageOptions& options) {
  routing::OrderState state;
  FUZZ_CHECK(state.accept(options));  // the first one always goes out
  if (options.order && !std::isnan(*options.order)) {
    FUZZ_CHECK(!state.accept(options));  // the same order again is a duplicate
    routing::MessageOptions other_key = options;
    other_key.order_key += "'";
    FUZZ_CHECK(state.accept(other_key));
    FUZZ_CHECK(state.size() == 2);
  } else {
    FUZZ_CHECK(state.accept(options));
  }
}

void check_throttle(const routing::MessageOptions& options, std::uint8_t steps) {
  if (!options.throttle) return;
  const double period = *options.throttle;
  routing::ThrottleState<int> state;
  double now = 1000.0;
  auto first = state.offer(options.throttle_key, period, now, 0);
  FUZZ_CHECK(first.send_now && !first.schedule_at);
  int latest_pending = -1;
  double timer_at = NAN;
  for (int i = 1; i <= (steps & 7); ++i) {
    now += ((steps >> 3) & 3) * 0.25;
    auto offer = state.offer(options.throttle_key, period, now, i);
    FUZZ_CHECK(!(offer.send_now && offer.schedule_at));
    if (offer.send_now) {
      latest_pending = -1;
    } else {
      latest_pending = i;
      if (offer.schedule_at) timer_at = *offer.schedule_at;
      FUZZ_CHECK(state.has_pending());
    }
  }
  if (latest_pending >= 0) {
    (void)timer_at;
    auto fired = state.fire(options.throttle_key, now + 1);
    FUZZ_CHECK(fired && *fired == latest_pending);
    FUZZ_CHECK(!state.has_pending());
  }
  FUZZ_CHECK(!state.fire(options.throttle_key, now + 2));
  FUZZ_CHECK(state.size() == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t flags = bytes[0];
  const std::string_view payload(reinterpret_cast<const char*>(bytes + 1), size - 1);

  std::string received_at = (flags & 1) ? std::string(kReceivedAt) : std::string();
  std::optional<std::size_t> queue_size;
  if (flags & 2) queue_size = flags >> 2;
  const routing::ParsedMessage parsed = routing::parse_published(payload, received_at, queue_size);

  if (!Json::accept(payload)) FUZZ_CHECK(parsed.problem == routing::ParseProblem::not_json);
  if (!parsed.message) {
    FUZZ_CHECK(parsed.problem == routing::ParseProblem::not_json ||
               parsed.problem == routing::ParseProblem::not_object ||
               parsed.problem == routing::ParseProblem::missing_fields);
    return 0;
  }
  FUZZ_CHECK(parsed.problem == routing::ParseProblem::none ||
             parsed.problem == routing::ParseProblem::bad_published_at);
  const routing::PublishedMessage& message = *parsed.message;
  FUZZ_CHECK(message.body.is_object());
  FUZZ_CHECK(message.body.contains("subscription") && message.body.contains("data"));
  FUZZ_CHECK(message.received_at == received_at);
  if (message.published_at) {
    for (char c : *message.published_at)  // spliced into frames without escaping
      FUZZ_CHECK((c >= '0' && c <= '9') || c == '-' || c == ':' || c == '.' || c == '+' || c == 'T');
  }

  // Extra data variants: none, ordinary, colliding with frame keys, and the
  // message's own `extra` object (any keys a client might send).
  const Json none = Json::object();
  const Json ordinary = {{"extra", "x"}, {"n", 1}};
  const Json colliding = {{"data", "replaced"}, {"sent_at", 0}, {"extra", nullptr}};
  auto own = message.body.find("extra");
  const Json& from_message = (own != message.body.end() && own->is_object()) ? *own : none;
  const Json* variants[] = {&none, &ordinary, &colliding, &from_message};
  check_frames(message, *variants[(flags >> 4) & 3]);
  check_frames(message, from_message);

  check_filters(message.body);
  check_order(message.options);
  check_throttle(message.options, flags);

  // The same body re-entering as a before_subscribe answer / throttled resend.
  for (bool with_published_at : {false, true}) {
    const routing::MessagePtr again = routing::message_from_json(message.body, with_published_at);
    FUZZ_CHECK(again->data_json == message.data_json);
    FUZZ_CHECK(again->subscription == message.subscription);
    if (with_published_at) FUZZ_CHECK(again->published_at == message.published_at);
    check_frames(*again, none);
  }
  return 0;
}
