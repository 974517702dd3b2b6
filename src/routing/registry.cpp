#include "socketshark/routing/registry.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "socketshark/ops/metrics.hpp"
#include "socketshark/routing/client.hpp"
#include "socketshark/util/logging.hpp"
#include "socketshark/util/timestamps.hpp"

namespace socketshark::routing {

namespace net = boost::asio;

namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void erase_slot(std::vector<Subscription*>& list, Subscription& subscription) {
  std::size_t slot = subscription.registry_slot;
  if (slot >= list.size() || list[slot] != &subscription) {
    auto it = std::find(list.begin(), list.end(), &subscription);
    if (it == list.end()) return;
    slot = static_cast<std::size_t>(it - list.begin());
  }
  list[slot] = list.back();
  list[slot]->registry_slot = slot;
  list.pop_back();
}

}  // namespace

Registry::Registry(net::any_io_executor executor, broker::Broker& broker, ops::Metrics& metrics)
    : executor_(std::move(executor)), broker_(broker), metrics_(metrics), clock_(steady_seconds) {}

void Registry::on_broker_message(std::string_view name, std::string_view payload, std::size_t queue_size) {
  auto channel = channels_.find(std::string(name));
  auto parsed = parse_published(payload, utc_isoformat(std::chrono::system_clock::now()), queue_size);
  if (!parsed.message) {
    metrics_.broker_message("invalid");
    const char* why = parsed.problem == ParseProblem::missing_fields ? "invalid service event"
                                                                      : "invalid JSON in service event";
    log::warn(why, {{"channel", name}, {"payload", std::string(payload.substr(0, 512))}});
    return;
  }
  metrics_.broker_message("received");
  if (parsed.problem == ParseProblem::bad_published_at)
    log::warn("invalid published_at format", {{"published_at", parsed.detail}});
  if (channel == channels_.end()) return;
  fan_out(channel->first, channel->second, parsed.message);
}

// The hot path. Nothing here closes a session or changes the registry
// synchronously (sessions close on a posted handler), so iterating the
// channel's lists directly is safe.
void Registry::fan_out(const std::string& name, Channel& channel, const MessagePtr& message) {
  for (Subscription* waiting : channel.provisional) waiting->buffered.push_back(message);
  if (channel.live.empty()) return;

  const bool same_name = message->subscription == name;
  const std::string sent_at = utc_isoformat(std::chrono::system_clock::now());
  const double now_seconds = now();
  // One encoding per distinct extra data; most channels have a single one.
  std::vector<std::pair<const std::string*, SharedFrame>> encoded;
  std::size_t frames = 0, bytes = 0;

  for (Subscription* subscriber : channel.live) {
    Client* client = subscriber->owner_raw();
    if (!client->active()) continue;
    Subscription* target = same_name ? subscriber : client->find(message->subscription);
    if (!target || target->state != Subscription::State::live) continue;
    if (!target->should_deliver(message, client->auth_info, now_seconds)) {
      metrics_.dropped(target->last_drop_reason);
      if (target->throttle_schedule)
        start_throttle_timer(*target, target->throttle_schedule->first, target->throttle_schedule->second);
      continue;
    }
    SharedFrame frame;
    for (auto& [extra, ready] : encoded)
      if (*extra == target->extra_json()) {
        frame = ready;
        break;
      }
    if (!frame) {
      frame = encode_text_frame(message_frame_payload(*message, Route::broker, target->extra_data(),
                                                      target->extra_json(), target->extra_collides(), sent_at));
      encoded.emplace_back(&target->extra_json(), frame);
    }
    bytes += frame->size();
    ++frames;
    client->send_frame(frame);
  }
  if (frames) metrics_.delivered(frames, bytes);
}

bool Registry::admit(Subscription& subscription, const MessagePtr& message) {
  Client* client = subscription.owner_raw();
  if (subscription.should_deliver(message, client->auth_info, now())) return true;
  metrics_.dropped(subscription.last_drop_reason);
  if (subscription.throttle_schedule)
    start_throttle_timer(subscription, subscription.throttle_schedule->first, subscription.throttle_schedule->second);
  return false;
}

void Registry::send(Subscription& subscription, const PublishedMessage& message, Route route) {
  const std::string sent_at = utc_isoformat(std::chrono::system_clock::now());
  auto frame = encode_text_frame(message_frame_payload(message, route, subscription.extra_data(),
                                                       subscription.extra_json(), subscription.extra_collides(),
                                                       sent_at));
  metrics_.delivered(1, frame->size());
  subscription.owner_raw()->send_frame(std::move(frame));
}

void Registry::start_throttle_timer(Subscription& subscription, const std::string& key, double due) {
  auto timer = std::make_shared<net::steady_timer>(executor_);
  timer->expires_after(std::chrono::duration_cast<net::steady_timer::duration>(
      std::chrono::duration<double>(std::max(0.0, due - now()))));
  subscription.throttle_timers[key] = timer;
  timer->async_wait([this, weak = subscription.weak_from_this(), key](const boost::system::error_code& ec) {
    auto subscription = weak.lock();
    if (ec || !subscription || subscription->state != Subscription::State::live) return;
    subscription->throttle_timers.erase(key);
    auto pending = subscription->throttle.fire(key, now());
    Client* client = subscription->owner_raw();
    if (pending && *pending && client->active()) send(*subscription, **pending, Route::throttled);
  });
}

net::awaitable<void> Registry::add_provisional(const std::shared_ptr<Subscription>& subscription) {
  const std::string name = subscription->name();
  auto [it, created] = channels_.try_emplace(name);
  Channel& channel = it->second;
  subscription->state = Subscription::State::provisional;
  subscription->registry_slot = channel.provisional.size();
  channel.provisional.push_back(subscription.get());
  ++subscriptions_;
  metrics_.registry_size(channels_.size(), subscriptions_);
  if (created) {
    channel.subscribed_signal = std::make_shared<net::steady_timer>(executor_, net::steady_timer::time_point::max());
    auto signal = channel.subscribed_signal;
    co_await broker_.subscribe(name);
    auto again = channels_.find(name);
    if (again != channels_.end() && again->second.subscribed_signal == signal) again->second.subscribed = true;
    signal->cancel();
  } else if (!channel.subscribed) {
    // Another session's SUBSCRIBE for this channel is still on its way.
    auto signal = channel.subscribed_signal;
    co_await signal->async_wait(net::as_tuple(net::use_awaitable));
  }
}

void Registry::confirm(Subscription& subscription) {
  auto it = channels_.find(subscription.name());
  if (it == channels_.end() || subscription.state != Subscription::State::provisional) return;
  Channel& channel = it->second;
  erase_slot(channel.provisional, subscription);
  subscription.state = Subscription::State::live;
  subscription.registry_slot = channel.live.size();
  channel.live.push_back(&subscription);

  auto buffered = std::move(subscription.buffered);
  subscription.buffered.clear();
  Client* client = subscription.owner_raw();
  for (auto& message : buffered) {
    Subscription* target = client->find(message->subscription);
    if (!target || target->state != Subscription::State::live || !client->active()) continue;
    if (admit(*target, message)) send(*target, *message, Route::buffered);
  }
}

void Registry::remove(Subscription& subscription) {
  subscription.cancel_timers();
  subscription.buffered.clear();
  const auto state = subscription.state;
  subscription.state = Subscription::State::removed;
  if (state == Subscription::State::removed) return;
  auto it = channels_.find(subscription.name());
  if (it == channels_.end()) return;
  Channel& channel = it->second;
  erase_slot(state == Subscription::State::live ? channel.live : channel.provisional, subscription);
  --subscriptions_;
  if (channel.live.empty() && channel.provisional.empty()) {
    if (channel.subscribed_signal) channel.subscribed_signal->cancel();
    channels_.erase(it);
    broker_.unsubscribe(subscription.name());
  }
  metrics_.registry_size(channels_.size(), subscriptions_);
}

}  // namespace socketshark::routing
