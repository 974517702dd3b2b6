#include "socketshark/routing/message.hpp"

#include "socketshark/protocol/replies.hpp"
#include "socketshark/util/timestamps.hpp"

namespace socketshark::routing {

namespace {

void fill_derived(PublishedMessage& m, bool with_published_at, ParseProblem* problem, std::string* detail) {
  m.subscription = m.body["subscription"].is_string() ? m.body["subscription"].get<std::string>()
                                                      : protocol::to_wire(m.body["subscription"]);
  m.subscription_json = protocol::to_wire(m.body["subscription"]);
  m.data_json = protocol::to_wire(m.body["data"]);
  m.options = parse_options(m.body);
  if (!with_published_at) return;
  auto it = m.body.find("published_at");
  if (it == m.body.end() || it->is_null()) return;
  if (it->is_string()) m.published_at = normalize_published_at(it->get_ref<const std::string&>());
  if (!m.published_at && problem) {
    *problem = ParseProblem::bad_published_at;
    *detail = protocol::to_wire(*it);
  }
}

}  // namespace

ParsedMessage parse_published(std::string_view payload, std::string received_at,
                              std::optional<std::size_t> queue_size) {
  ParsedMessage out;
  Json body = parse_untrusted_json(payload);
  if (body.is_discarded()) {
    out.problem = ParseProblem::not_json;
    return out;
  }
  if (!body.is_object()) {
    out.problem = ParseProblem::not_object;
    return out;
  }
  if (!body.contains("subscription") || !body.contains("data")) {
    out.problem = ParseProblem::missing_fields;
    return out;
  }
  auto message = std::make_shared<PublishedMessage>();
  message->body = std::move(body);
  message->received_at = std::move(received_at);
  message->queue_size = queue_size;
  fill_derived(*message, true, &out.problem, &out.detail);
  out.message = std::move(message);
  return out;
}

MessagePtr message_from_json(Json body, bool with_published_at) {
  auto message = std::make_shared<PublishedMessage>();
  message->body = std::move(body);
  if (!message->body.is_object()) message->body = Json::object();
  fill_derived(*message, with_published_at, nullptr, nullptr);
  return message;
}

std::string extra_fragment(const Json& extra_data) {
  std::string out;
  if (!extra_data.is_object()) return out;
  for (auto& [key, value] : extra_data.items()) {
    out += ',';
    out += protocol::to_wire(Json(key));
    out += ':';
    out += protocol::to_wire(value);
  }
  return out;
}

bool extra_collides_with_frame(const Json& extra_data) {
  if (!extra_data.is_object()) return false;
  for (const char* key : {"event", "subscription", "data", "published_at", "received_at", "queue_size", "sent_at"})
    if (extra_data.contains(key)) return true;
  return false;
}

std::string message_frame_payload(const PublishedMessage& m, Route route, const Json& extra_data, std::string_view extra_json,
                                  bool extra_collides, std::string_view sent_at) {
  const bool with_published_at = route != Route::throttled && m.published_at;
  const bool with_received = route == Route::broker && !m.received_at.empty();
  if (extra_collides) {
    // Rare: an extra field named like a frame key replaces it in place, as dict.update() does.
    Json frame = Json::object();
    frame["event"] = "message";
    frame["subscription"] = m.body["subscription"];
    frame["data"] = m.body["data"];
    if (with_published_at) frame["published_at"] = *m.published_at;
    if (with_received) frame["received_at"] = m.received_at;
    if (with_received && m.queue_size) frame["queue_size"] = *m.queue_size;
    for (auto& [key, value] : extra_data.items()) frame[key] = value;
    frame["sent_at"] = sent_at;
    return protocol::to_wire(frame);
  }
  std::string out;
  out.reserve(64 + m.subscription_json.size() + m.data_json.size() + extra_json.size() + 120);
  out += R"({"event":"message","subscription":)";
  out += m.subscription_json;
  out += R"(,"data":)";
  out += m.data_json;
  if (with_published_at) {
    out += R"(,"published_at":")";
    out += *m.published_at;  // digits, '-', ':', '.', '+', 'T' only: no escaping needed
    out += '"';
  }
  if (with_received) {
    out += R"(,"received_at":")";
    out += m.received_at;
    out += '"';
  }
  if (with_received && m.queue_size) {
    out += R"(,"queue_size":)";
    out += std::to_string(*m.queue_size);
  }
  out += extra_json;
  out += R"(,"sent_at":")";
  out += sent_at;
  out += "\"}";
  return out;
}

}  // namespace socketshark::routing
