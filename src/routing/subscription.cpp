#include "socketshark/routing/subscription.hpp"

namespace socketshark::routing {

Subscription::Subscription(std::string name, std::string service_name, const config::ServiceSettings& service,
                           Json extra_data, const std::shared_ptr<Client>& owner,
                           boost::asio::any_io_executor executor)
    : name_(std::move(name)),
      service_name_(std::move(service_name)),
      service_(service),
      extra_data_(std::move(extra_data)),
      extra_json_(extra_fragment(extra_data_)),
      extra_collides_(extra_collides_with_frame(extra_data_)),
      owner_(owner),
      owner_raw_(owner.get()),
      executor_(std::move(executor)) {}

Json Subscription::service_request_body(const Json& auth_info) const {
  Json body = Json::object();
  body["subscription"] = name_;
  for (auto& [key, value] : extra_data_.items()) body[key] = value;
  if (authorizer_data.is_object())
    for (auto& [key, value] : authorizer_data.items()) body[key] = value;
  for (auto& [key, value] : auth_info.items()) body[key] = value;
  return body;
}

bool Subscription::should_deliver(const MessagePtr& shared, const Json& auth_info, double now_seconds) {
  const PublishedMessage& message = *shared;
  throttle_schedule.reset();
  if (!filter_fields_match(message.body, service_.filter_fields, service_.extra_fields, extra_data_, auth_info)) {
    last_drop_reason = "fields";
    return false;
  }
  if (!order.accept(message.options)) {
    last_drop_reason = "order";
    return false;
  }
  if (message.options.throttle) {
    // A held message is sent later as Route::throttled (sent_at only).
    auto offer = throttle.offer(message.options.throttle_key, *message.options.throttle, now_seconds, shared);
    if (!offer.send_now) {
      if (offer.schedule_at) throttle_schedule.emplace(message.options.throttle_key, *offer.schedule_at);
      last_drop_reason = "throttle";
      return false;
    }
  }
  return true;
}

void Subscription::cancel_timers() {
  for (auto& timer : periodic_timers) timer->cancel();
  periodic_timers.clear();
  for (auto& [key, timer] : throttle_timers) timer->cancel();
  throttle_timers.clear();
  throttle.clear();
}

}  // namespace socketshark::routing
