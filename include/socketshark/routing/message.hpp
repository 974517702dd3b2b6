// A message published by a service (SPEC §3), parsed once for all recipients.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "socketshark/routing/message_options.hpp"
#include "socketshark/util/json.hpp"

namespace socketshark::routing {

struct PublishedMessage {
  Json body;                  // subscription, data, options, filter fields, ...
  std::string subscription;   // body["subscription"]
  std::string subscription_json;  // the same, encoded as a JSON string once
  std::string data_json;      // body["data"], encoded once
  std::optional<std::string> published_at;  // normalized; absent when missing or invalid
  std::string received_at;    // empty unless straight from the broker
  std::optional<std::size_t> queue_size;
  MessageOptions options;
};
using MessagePtr = std::shared_ptr<const PublishedMessage>;

enum class ParseProblem { none, not_json, not_object, missing_fields, bad_published_at };

struct ParsedMessage {
  MessagePtr message;  // null when dropped
  ParseProblem problem = ParseProblem::none;  // bad_published_at still has a message
  std::string detail;
};

// Parses a broker payload. `received_at` may be empty (buffered/throttled paths).
ParsedMessage parse_published(std::string_view payload, std::string received_at,
                              std::optional<std::size_t> queue_size);

// Builds a message from an already parsed object (the before_subscribe answer,
// a throttled message re-sent); no received_at/queue_size, published_at kept
// only when `with_published_at`.
MessagePtr message_from_json(Json body, bool with_published_at);

// Serialized extra data of a subscription, as `,"k":v` pairs ready to splice.
std::string extra_fragment(const Json& extra_data);

// True when an extra field would overwrite a key of the message frame
// (then the frame is built the slow way, keeping Python's update() semantics).
bool extra_collides_with_frame(const Json& extra_data);

// How a frame travelled decides its timestamps (SPEC §3 table).
enum class Route {
  broker,     // published_at (when valid), received_at, queue_size
  buffered,   // published_at only: held while the subscription was provisional
  throttled,  // neither: held by throttle and sent when the period ended
};

// {"event":"message","subscription":S,"data":D[,"published_at"][,"received_at","queue_size"]<extra>,"sent_at":T}
std::string message_frame_payload(const PublishedMessage& message, Route route, const Json& extra_data,
                                  std::string_view extra_json, bool extra_collides, std::string_view sent_at);

}  // namespace socketshark::routing
