#include "socketshark/broker/redis_broker.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "socketshark/broker/hiredis_asio.hpp"
#include "socketshark/ops/metrics.hpp"
#include "socketshark/util/logging.hpp"

namespace socketshark::broker {

namespace net = boost::asio;

namespace {
net::steady_timer::duration seconds(double value) {
  return std::chrono::duration_cast<net::steady_timer::duration>(std::chrono::duration<double>(value));
}
std::string random_token() {
  static std::mt19937_64 random{std::random_device{}()};
  return std::to_string(random());
}
}  // namespace

// One Redis server: a subscriber context and a command context.
class RedisLink : public std::enable_shared_from_this<RedisLink> {
 public:
  RedisLink(RedisBroker& broker, const config::RedisSettings& settings, std::string label)
      : broker_(broker),
        settings_(settings),
        label_(std::move(label)),
        // Under the prefix, so ACLs limited to it allow the probe; it has no
        // '.', so no client subscription can ever share its name.
        probe_channel_(settings.channel_prefix + "socketshark:probe:" + random_token()),
        retry_timer_(broker.executor_),
        probe_timer_(broker.executor_) {}

  bool ready() const { return ready_; }

  void connect() {
    if (stopped_) return;
    subscriber_ = open_context();
    commands_ = open_context();
    if (!subscriber_ || !commands_) {
      lost("cannot create redis context");
      return;
    }
    // AUTH before anything else, on both; SELECT for the command connection.
    for (auto* context : {subscriber_, commands_}) {
      if (settings_.password)
        redisAsyncCommand(context, &RedisLink::on_auth_reply, this, "AUTH %b", settings_.password->data(),
                          settings_.password->size());
    }
    if (settings_.db) redisAsyncCommand(commands_, &RedisLink::on_auth_reply, this, "SELECT %d", settings_.db);
    // The probe channel first: its confirmation means the subscriber works.
    send_subscribe(probe_channel_, /*is_probe=*/true);
    for (auto& [name, channel] : broker_.channels_) send_subscribe(settings_.channel_prefix + name, false);
  }

  void stop() {
    stopped_ = true;
    retry_timer_.cancel();
    probe_timer_.cancel();
    disconnect_all();
  }

  void subscribe(const std::string& name) {
    if (!subscriber_) return;  // subscribed on (re)connect
    const std::string channel = settings_.channel_prefix + name;
    auto& state = channel_states_[channel];
    if (state.unsubscribing) {
      state.resubscribe = true;  // serialize: wait for the UNSUBSCRIBE reply first
      return;
    }
    send_subscribe(channel, false);
  }

  void unsubscribe(const std::string& name) {
    const std::string channel = settings_.channel_prefix + name;
    auto it = channel_states_.find(channel);
    if (!subscriber_ || it == channel_states_.end()) {
      if (it != channel_states_.end()) channel_states_.erase(it);
      return;
    }
    it->second.confirmed = false;
    it->second.resubscribe = false;
    it->second.unsubscribing = true;
    redisAsyncCommand(subscriber_, nullptr, nullptr, "UNSUBSCRIBE %b", channel.data(), channel.size());
  }

  void publish(const std::string& name, const std::string& payload) {
    if (!commands_) {
      log::warn("publish dropped: redis not connected", {{"redis", label_}, {"subscription", name}});
      return;
    }
    const std::string channel = settings_.channel_prefix + name;
    redisAsyncCommand(commands_, nullptr, nullptr, "PUBLISH %b %b", channel.data(), channel.size(), payload.data(),
                      payload.size());
  }

  bool confirmed(const std::string& name) const {
    auto it = channel_states_.find(settings_.channel_prefix + name);
    return !ready_ || (it != channel_states_.end() && it->second.confirmed);
  }

 private:
  struct ChannelState {
    bool confirmed = false;
    bool unsubscribing = false;
    bool resubscribe = false;
  };

  redisAsyncContext* open_context() {
    redisAsyncContext* context = redisAsyncConnect(settings_.host.c_str(), settings_.port);
    if (!context) return nullptr;
    if (context->err) {
      log::warn("redis connect failed", {{"redis", label_}, {"error", context->errstr}});
      redisAsyncFree(context);
      return nullptr;
    }
    context->data = this;
    attach_to_asio(context, broker_.executor_);
    redisAsyncSetConnectCallback(context, &RedisLink::on_connect);
    redisAsyncSetDisconnectCallback(context, &RedisLink::on_disconnect);
    return context;
  }

  void send_subscribe(const std::string& channel, bool is_probe) {
    if (!subscriber_) return;
    if (!is_probe) channel_states_[channel];
    redisAsyncCommand(subscriber_, &RedisLink::on_subscriber_reply, this, "SUBSCRIBE %b", channel.data(),
                      channel.size());
  }

  static RedisLink* link_of(const redisAsyncContext* context) { return static_cast<RedisLink*>(context->data); }

  static void on_connect(const redisAsyncContext* context, int status) {
    auto* self = link_of(context);
    if (!self) return;
    if (status != REDIS_OK) {
      // hiredis frees the context after this callback.
      if (context == self->subscriber_) self->subscriber_ = nullptr;
      if (context == self->commands_) self->commands_ = nullptr;
      self->lost(std::string("connect failed: ") + context->errstr);
      return;
    }
    if (context == self->subscriber_) self->connected_subscriber_ = true;
  }

  static void on_disconnect(const redisAsyncContext* context, int status) {
    auto* self = link_of(context);
    if (!self) return;
    if (context == self->subscriber_) self->subscriber_ = nullptr;
    if (context == self->commands_) self->commands_ = nullptr;
    if (!self->stopped_) self->lost(status == REDIS_OK ? "disconnected" : std::string("connection lost: ") + context->errstr);
  }

  static void on_auth_reply(redisAsyncContext* context, void* reply_ptr, void*) {
    auto* reply = static_cast<redisReply*>(reply_ptr);
    if (reply && reply->type == REDIS_REPLY_ERROR && link_of(context)) link_of(context)->lost(std::string("AUTH/SELECT failed: ") + reply->str);
  }

  static void on_subscriber_reply(redisAsyncContext* context, void* reply_ptr, void*) {
    auto* reply = static_cast<redisReply*>(reply_ptr);
    if (!reply) return;  // context going away
    auto* self = link_of(context);
    if (!self) return;  // being freed after a failure
    if (reply->type == REDIS_REPLY_ERROR) {
      self->lost(std::string("subscribe failed: ") + reply->str);
      return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
    std::string_view kind(reply->element[0]->str, reply->element[0]->len);
    std::string_view channel(reply->element[1]->str ? reply->element[1]->str : "", reply->element[1]->len);
    if (kind == "message") {
      std::string_view payload(reply->element[2]->str ? reply->element[2]->str : "", reply->element[2]->len);
      self->on_message(channel, payload);
    } else if (kind == "subscribe") {
      self->on_subscribed(channel);
    } else if (kind == "unsubscribe") {
      self->on_unsubscribed(channel);
    }
  }

  void on_message(std::string_view channel, std::string_view payload) {
    if (channel == probe_channel_) {
      if (payload == probe_token_) {
        probe_token_.clear();
        schedule_probe(settings_.ping_interval);
      }
      return;
    }
    const auto& prefix = settings_.channel_prefix;
    if (channel.substr(0, prefix.size()) != prefix) return;
    if (broker_.on_message_) broker_.on_message_(channel.substr(prefix.size()), payload, 0);
  }

  void on_subscribed(std::string_view channel) {
    if (channel == probe_channel_) {
      if (!ready_) {
        ready_ = true;
        backoff_ = 0;
        log::info("redis connected", {{"redis", label_}, {"host", settings_.host}, {"port", settings_.port}});
        schedule_probe(settings_.ping_interval);
        broker_.link_state_changed();
      }
      return;
    }
    auto it = channel_states_.find(std::string(channel));
    if (it != channel_states_.end() && !it->second.unsubscribing) it->second.confirmed = true;
    broker_.link_state_changed();
  }

  void on_unsubscribed(std::string_view channel) {
    auto it = channel_states_.find(std::string(channel));
    if (it == channel_states_.end()) return;
    if (it->second.resubscribe) {
      it->second = ChannelState{};
      send_subscribe(std::string(channel), false);
    } else if (it->second.unsubscribing) {
      channel_states_.erase(it);
    }
  }

  void schedule_probe(double delay) {
    if (settings_.ping_interval <= 0 || settings_.ping_timeout <= 0) return;
    probe_timer_.expires_after(seconds(delay));
    probe_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->ready_ || !self->commands_) return;
      self->probe_token_ = random_token();
      self->redisAsyncCommandSafe();
      self->probe_timer_.expires_after(seconds(self->settings_.ping_timeout));
      self->probe_timer_.async_wait([weak](boost::system::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->probe_token_.empty()) return;
        self->lost("redis ping timeout");
      });
    });
  }

  void redisAsyncCommandSafe() {
    redisAsyncCommand(commands_, nullptr, nullptr, "PUBLISH %b %b", probe_channel_.data(), probe_channel_.size(),
                      probe_token_.data(), probe_token_.size());
  }

  void disconnect_all() {
    for (auto** slot : {&subscriber_, &commands_}) {
      if (auto* context = *slot) {
        *slot = nullptr;
        context->data = nullptr;  // its callbacks now ignore it
        // Inside one of its own callbacks a context must not be freed:
        // hiredis then disconnects and frees it once the callback returns.
        // Otherwise free it now (a context hiredis already dropped is never
        // in our slots: on_disconnect clears them first).
        if (context->c.flags & REDIS_IN_CALLBACK)
          redisAsyncDisconnect(context);
        else
          redisAsyncFree(context);
      }
    }
    connected_subscriber_ = false;
  }

  void lost(const std::string& why) {
    if (reconnect_pending_ || stopped_) return;
    log::error("redis unavailable", {{"redis", label_}, {"error", why}});
    const bool was_ready = ready_;
    ready_ = false;
    probe_token_.clear();
    probe_timer_.cancel();
    disconnect_all();
    channel_states_.clear();
    if (was_ready) broker_.link_state_changed();
    // Exponential backoff with jitter: 0.1 s doubling up to 5 s.
    backoff_ = backoff_ == 0 ? 0.1 : std::min(backoff_ * 2, 5.0);
    static std::mt19937 random{std::random_device{}()};
    const double delay = backoff_ * std::uniform_real_distribution<double>(0.5, 1.0)(random);
    reconnect_pending_ = true;
    retry_timer_.expires_after(seconds(delay));
    retry_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->reconnect_pending_ = false;
      self->broker_.metrics_.broker_reconnect();
      self->connect();
    });
  }

  RedisBroker& broker_;
  const config::RedisSettings& settings_;
  std::string label_;
  std::string probe_channel_;
  std::string probe_token_;
  redisAsyncContext* subscriber_ = nullptr;
  redisAsyncContext* commands_ = nullptr;
  bool connected_subscriber_ = false;
  bool ready_ = false;
  bool stopped_ = false;
  bool reconnect_pending_ = false;
  double backoff_ = 0;
  std::unordered_map<std::string, ChannelState> channel_states_;
  net::steady_timer retry_timer_;
  net::steady_timer probe_timer_;
};

RedisBroker::RedisBroker(net::any_io_executor executor, const config::RedisSettings& main,
                         const std::optional<config::RedisSettings>& alt, ops::Metrics& metrics)
    : executor_(std::move(executor)), metrics_(metrics) {
  links_.push_back(std::make_shared<RedisLink>(*this, main, "redis"));
  if (alt) links_.push_back(std::make_shared<RedisLink>(*this, *alt, "redis_alt"));
}

RedisBroker::~RedisBroker() { stop(); }

void RedisBroker::start(MessageSink on_message, StateSink on_state) {
  on_message_ = std::move(on_message);
  on_state_ = std::move(on_state);
  for (auto& link : links_) link->connect();
}

void RedisBroker::stop() {
  for (auto& link : links_) link->stop();
}

bool RedisBroker::ready() const {
  for (auto& link : links_)
    if (!link->ready()) return false;
  return true;
}

void RedisBroker::link_state_changed() {
  // Wake subscribers whose channel is now confirmed everywhere (or whose
  // link went down: they must not hang; the sessions are being closed).
  for (auto& [name, channel] : channels_) {
    if (channel.waiters.empty()) continue;
    bool done = true;
    for (auto& link : links_) done = done && link->confirmed(name);
    if (!done) continue;
    for (auto& waiter : channel.waiters) waiter->cancel();
    channel.waiters.clear();
  }
  const bool now_ready = ready();
  if (now_ready != reported_ready_) {
    reported_ready_ = now_ready;
    if (on_state_) on_state_(now_ready);
  }
}

net::awaitable<void> RedisBroker::subscribe(std::string name) {
  auto& channel = channels_[name];
  for (auto& link : links_) link->subscribe(name);
  bool confirmed = true;
  for (auto& link : links_) confirmed = confirmed && link->confirmed(name);
  if (confirmed) co_return;
  auto waiter = std::make_shared<net::steady_timer>(executor_, seconds(10));
  channel.waiters.push_back(waiter);
  co_await waiter->async_wait(net::as_tuple(net::use_awaitable));
}

void RedisBroker::unsubscribe(const std::string& name) {
  auto it = channels_.find(name);
  if (it == channels_.end()) return;
  for (auto& waiter : it->second.waiters) waiter->cancel();
  channels_.erase(it);
  for (auto& link : links_) link->unsubscribe(name);
}

void RedisBroker::publish(const std::string& name, std::string payload) { links_.front()->publish(name, payload); }

}  // namespace socketshark::broker
