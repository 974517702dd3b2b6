#include "socketshark/protocol/event_handler.hpp"

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "socketshark/auth/jwt_verifier.hpp"
#include "socketshark/callbacks/http_client.hpp"
#include "socketshark/ops/metrics.hpp"
#include "socketshark/protocol/errors.hpp"
#include "socketshark/protocol/replies.hpp"
#include "socketshark/routing/client.hpp"
#include "socketshark/routing/registry.hpp"
#include "socketshark/routing/subscription.hpp"
#include "socketshark/util/logging.hpp"

namespace socketshark::protocol {

namespace net = boost::asio;
using routing::Client;
using routing::Subscription;

namespace {

// An event that fails with an error reply (SocketShark's EventError).
struct EventError {
  EventError(Json error_text, Json error_data) : error(std::move(error_text)), data(std::move(error_data)) {}
  EventError(const char* error_text) : error(std::string(error_text)) {}
  Json error;
  Json data;  // included in the reply only when truthy
};

bool answer_ok(const Json& answer) {
  auto status = answer.find("status");
  return status != answer.end() && *status == "ok";
}

// A non-ok answer becomes the error reply: its `error` (else `fallback`) and its `data`.
[[noreturn]] void fail_with(const Json& answer, const char* fallback) {
  auto error = answer.find("error");
  auto data = answer.find("data");
  throw EventError(error != answer.end() ? *error : Json(std::string(fallback)), data != answer.end() ? *data : Json());
}

const std::optional<std::string>& callback_url(const config::ServiceSettings& service, std::string_view callback) {
  static const std::optional<std::string> none;
  if (callback == "authorizer") return service.authorizer;
  if (callback == "before_subscribe") return service.before_subscribe;
  if (callback == "on_subscribe") return service.on_subscribe;
  if (callback == "on_message") return service.on_message;
  if (callback == "before_unsubscribe") return service.before_unsubscribe;
  if (callback == "on_unsubscribe") return service.on_unsubscribe;
  if (callback == "on_authorization_change") return service.on_authorization_change;
  if (callback == "on_heartbeat") return service.on_heartbeat;
  return none;
}

net::steady_timer::duration seconds(double value) {
  return std::chrono::duration_cast<net::steady_timer::duration>(std::chrono::duration<double>(value));
}

}  // namespace

// What the replies of one event carry besides status (SocketShark's Event).
struct EventHandler::Reply {
  std::string event;
  Json extra = Json::object();  // the subscription's extra data
  std::string subscription;     // echoed when non-empty

  void ok(Client& client, const Json* data = nullptr) const {
    client.send_text(ok_reply(event, &extra, data, subscription));
  }
  void error(Client& client, const Json& text, const Json* data = nullptr) const {
    Json reply = Json::object();
    reply["event"] = event;
    reply["status"] = "error";
    reply["error"] = text;
    for (auto& [key, value] : extra.items()) reply[key] = value;
    if (data && truthy(*data)) reply["data"] = *data;
    if (!subscription.empty()) reply["subscription"] = subscription;
    client.send_text(to_wire(reply));
  }
};

EventHandler::EventHandler(Services services) : services_(std::move(services)), random_(std::random_device{}()) {}

double EventHandler::random_fraction() { return std::uniform_real_distribution<double>(0.0, 1.0)(random_); }

net::awaitable<void> EventHandler::handle(std::shared_ptr<Client> client, std::string_view frame) {
  ClientEvent event = parse_client_event(frame);
  auto& metrics = services_.metrics;
  if (client->event_rate.enabled()) {
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    const auto verdict = client->event_rate.take(now);
    if (verdict != TokenBucket::Verdict::allowed) {
      metrics.refused("client_rate");
      Json refusal = Json::object();
      if (!event.name.empty()) refusal["event"] = event.name;
      refusal["status"] = "error";
      refusal["error"] = errors::rate_limited;
      client->send_text(to_wire(refusal));
      if (verdict == TokenBucket::Verdict::abusive) {
        log::warn("client keeps exceeding its event rate, closing", {{"session", client->id()}});
        client->close(close_codes::too_many, "");
      }
      co_return;
    }
  }
  switch (event.kind) {
    case EventKind::not_json:
      log::warn("received invalid json", {{"session", client->id()}});
      client->send_text(invalid_event_reply());
      co_return;
    case EventKind::invalid:
      client->send_text(invalid_event_reply());
      metrics.event_handled("invalid", false);
      co_return;
    case EventKind::unknown:
      client->send_text(error_reply(event.name, errors::unknown_event, nullptr, nullptr, {}));
      metrics.event_handled("unknown", false);
      co_return;
    default:
      break;
  }
  log::trace("client event", {{"session", client->id()}, {"event", event.name}});

  Reply reply;
  reply.event = event.name;
  if (event.kind == EventKind::subscribe || event.kind == EventKind::message || event.kind == EventKind::unsubscribe) {
    reply.subscription = event.subscription();
    // Replies about an existing subscription carry its stored extra data.
    if (Subscription* existing = client->find(reply.subscription)) {
      reply.extra = existing->extra_data();
    } else {
      auto dot = reply.subscription.find('.');
      auto service = services_.settings.services.find(reply.subscription.substr(0, dot));
      if (dot != std::string::npos && service != services_.settings.services.end())
        for (const auto& field : service->second.extra_fields)
          if (auto it = event.data.find(field); it != event.data.end()) reply.extra[field] = *it;
    }
  }

  bool unexpected = false;
  try {
    bool success = co_await process(*client, event, reply);
    metrics.event_handled(event.name, success);
  } catch (const EventError& e) {
    reply.error(*client, e.error, &e.data);
    metrics.event_handled(event.name, false);
  } catch (const std::exception& e) {
    log::error("unhandled event processing exception",
               {{"session", client->id()}, {"event", event.name}, {"error", e.what()}});
    unexpected = true;
  }
  if (unexpected) {
    reply.error(*client, errors::unhandled);
    client->close(close_codes::normal, "");
  }
}

net::awaitable<bool> EventHandler::process(Client& client, const ClientEvent& event, Reply& reply) {
  switch (event.kind) {
    case EventKind::ping:
      client.send_text(pong_reply(event.data));
      co_return true;
    case EventKind::auth:
      co_return co_await authenticate(client, event, reply);
    case EventKind::subscribe:
      co_return co_await subscribe(client, event, reply);
    case EventKind::message:
      co_return co_await message(client, event, reply);
    case EventKind::unsubscribe:
      co_return co_await unsubscribe(client, event, reply);
    default:
      co_return false;
  }
}

net::awaitable<bool> EventHandler::authenticate(Client& client, const ClientEvent& event, Reply& reply) {
  const auto& authentication = services_.settings.authentication;
  // `method` defaults to ticket; a non-string method is simply unsupported.
  std::string method("ticket");
  if (auto it = event.data.find("method"); it != event.data.end()) {
    method.clear();
    if (it->is_string()) method = it->get<std::string>();
  }

  if (method == "ticket" && authentication.ticket) {
    auto ticket = event.data.find("ticket");
    if (ticket == event.data.end() || !truthy(*ticket)) throw EventError(errors::needs_ticket);
    const auto& config = *authentication.ticket;
    Json body = Json::object();  // built before co_await: g++ 12 miscompiles braced temporaries there
    body["ticket"] = *ticket;
    Json answer = co_await services_.http.post("auth", config.validation_url, body);
    if (!answer_ok(answer)) fail_with(answer, errors::auth_failed);
    Json auth_info = Json::object();
    for (const auto& field : config.auth_fields) {
      auto value = answer.find(field);
      if (value == answer.end()) throw std::runtime_error("auth answer lacks auth field '" + field + "'");
      auth_info[field] = *value;
    }
    client.auth_info = std::move(auth_info);
    authenticated(client);
    reply.ok(client);
    co_return true;
  }
  if (method == "jwt" && authentication.jwt && services_.jwt) {
    auto token = event.data.find("token");
    if (token == event.data.end() || !token->is_string()) throw EventError(errors::auth_failed);
    auto verified = services_.jwt->verify(token->get_ref<const std::string&>());
    if (!verified.auth_info) {
      log::info("jwt rejected", {{"session", client.id()}, {"reason", verified.error}});
      throw EventError(errors::auth_failed);
    }
    client.auth_info = std::move(*verified.auth_info);
    authenticated(client);
    reply.ok(client);
    co_return true;
  }
  throw EventError(errors::auth_method);
}

net::awaitable<Json> EventHandler::call(std::string_view callback, const Subscription& subscription,
                                        const Json& auth_info, const Json* message_data) {
  const auto& url = callback_url(subscription.service(), callback);
  if (!url) co_return Json{{"status", "ok"}};
  Json body = subscription.service_request_body(auth_info);
  if (message_data) body["data"] = *message_data;
  co_return co_await services_.http.post(callback, *url, body);
}

net::awaitable<void> EventHandler::authorize(Subscription& subscription, const Json& auth_info) {
  Json answer = co_await call("authorizer", subscription, auth_info);
  if (!answer_ok(answer)) fail_with(answer, errors::unauthorized);
  Json authorizer_data = Json::object();
  for (const auto& field : subscription.service().authorizer_fields)
    if (auto it = answer.find(field); it != answer.end()) authorizer_data[field] = *it;
  const bool changed = !subscription.authorizer_data.is_null() && authorizer_data != subscription.authorizer_data;
  subscription.authorizer_data = std::move(authorizer_data);
  if (changed) co_await call("on_authorization_change", subscription, auth_info);
}

// Validation shared by the subscription events (Subscription.validate).
static const config::ServiceSettings& validated_service(const Services& services, const std::string& name,
                                                        std::string* service_name) {
  auto dot = name.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size()) throw EventError(errors::bad_subscription);
  *service_name = name.substr(0, dot);
  auto service = services.settings.services.find(*service_name);
  if (service == services.settings.services.end()) throw EventError(errors::bad_service);
  return service->second;
}

net::awaitable<bool> EventHandler::subscribe(Client& client, const ClientEvent& event, Reply& reply) {
  std::string service_name;
  const auto& service = validated_service(services_, reply.subscription, &service_name);
  if (service.require_authentication && client.auth_info.empty()) throw EventError(errors::auth_required);
  if (client.find(reply.subscription)) throw EventError(errors::already_subscribed);
  const auto limit = services_.settings.limits.max_subscriptions_per_session;
  if (limit && client.subscription_count() >= limit) {
    services_.metrics.refused("max_subscriptions_per_session");
    throw EventError(errors::too_many_subscriptions);
  }

  auto owner = client.shared_from_this();
  auto subscription = std::make_shared<Subscription>(reply.subscription, service_name, service, reply.extra, owner,
                                                     services_.executor);
  co_await authorize(*subscription, client.auth_info);

  auto& registry = services_.registry;
  co_await registry.add_provisional(subscription);
  Json answer;
  try {
    answer = co_await call("before_subscribe", *subscription, client.auth_info);
  } catch (...) {
    registry.remove(*subscription);
    throw;
  }
  if (!answer_ok(answer)) {
    registry.remove(*subscription);  // SocketShark leaks it here (SPEC §8)
    fail_with(answer, errors::unhandled);
  }
  client.add(subscription);
  // The reply passes the message filters with the answer as the message.
  if (registry.admit(*subscription, routing::message_from_json(answer, false))) {
    auto data = answer.find("data");
    reply.ok(client, data != answer.end() ? &*data : nullptr);
  }
  registry.confirm(*subscription);
  start_periodic_tasks(subscription);
  co_await call("on_subscribe", *subscription, client.auth_info);
  co_return true;
}

net::awaitable<bool> EventHandler::message(Client& client, const ClientEvent& event, Reply& reply) {
  std::string service_name;
  validated_service(services_, reply.subscription, &service_name);
  Subscription* subscription = client.find(reply.subscription);
  if (!subscription) throw EventError(errors::not_subscribed);
  auto keep = subscription->shared_from_this();
  auto data = event.data.find("data");
  Json message_data = data != event.data.end() ? *data : Json();
  Json answer = co_await call("on_message", *subscription, client.auth_info, &message_data);
  if (!answer_ok(answer)) fail_with(answer, errors::unhandled);
  if (auto it = answer.find("data"); it != answer.end()) reply.ok(client, &*it);
  co_return true;
}

net::awaitable<bool> EventHandler::unsubscribe(Client& client, const ClientEvent& event, Reply& reply) {
  std::string service_name;
  validated_service(services_, reply.subscription, &service_name);
  Subscription* found = client.find(reply.subscription);
  if (!found) throw EventError(errors::not_subscribed);
  auto subscription = found->shared_from_this();
  Json answer = co_await call("before_unsubscribe", *subscription, client.auth_info);
  if (!answer_ok(answer)) fail_with(answer, errors::unhandled);
  client.take(reply.subscription);
  services_.registry.remove(*subscription);
  auto data = answer.find("data");
  reply.ok(client, data != answer.end() ? &*data : nullptr);
  co_await call("on_unsubscribe", *subscription, client.auth_info);
  co_return true;
}

net::awaitable<void> EventHandler::unsubscribe_all(std::shared_ptr<Client> client) {
  auto subscriptions = client->take_all();
  for (auto& subscription : subscriptions) services_.registry.remove(*subscription);
  for (auto& subscription : subscriptions) {
    try {
      co_await call("before_unsubscribe", *subscription, client->auth_info);
      co_await call("on_unsubscribe", *subscription, client->auth_info);
    } catch (const std::exception& e) {
      log::error("unsubscribe callbacks failed on close",
                 {{"session", client->id()}, {"subscription", subscription->name()}, {"error", e.what()}});
    }
  }
}

void EventHandler::start_periodic_tasks(const std::shared_ptr<Subscription>& subscription) {
  const auto& service = subscription->service();
  auto spawn = [this](net::awaitable<void> task) {
    net::co_spawn(services_.executor, std::move(task), [](std::exception_ptr failure) {
      if (!failure) return;
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        log::error("periodic task failed", {{"error", e.what()}});
      }
    });
  };
  if (service.authorization_renewal_period) spawn(renew_authorization(subscription));
  if (service.heartbeat_period && service.on_heartbeat) spawn(send_heartbeats(subscription));
}

net::awaitable<void> EventHandler::renew_authorization(std::shared_ptr<Subscription> subscription) {
  auto timer = std::make_shared<net::steady_timer>(services_.executor);
  subscription->periodic_timers.push_back(timer);
  const auto& service = subscription->service();
  while (subscription->state == Subscription::State::live) {
    const double period = *service.authorization_renewal_period - random_fraction() * service.authorization_renewal_jitter;
    timer->expires_after(seconds(period));
    auto [ec] = co_await timer->async_wait(net::as_tuple(net::use_awaitable));
    if (ec || subscription->state != Subscription::State::live) co_return;
    auto client = subscription->owner();
    if (!client || !client->active()) co_return;
    std::optional<Json> revoked;
    try {
      co_await authorize(*subscription, client->auth_info);
    } catch (const EventError& e) {
      revoked = e.error;
    }
    if (revoked) {
      if (subscription->state != Subscription::State::live) co_return;
      log::info("authorization expired", {{"session", client->id()}, {"subscription", subscription->name()}});
      co_await self_unsubscribe(subscription, std::move(*revoked));
      co_return;
    }
  }
}

net::awaitable<void> EventHandler::self_unsubscribe(std::shared_ptr<Subscription> subscription, Json error) {
  auto client = subscription->owner();
  if (!client) co_return;
  client->take(subscription->name());
  services_.registry.remove(*subscription);
  Json answer = co_await call("before_unsubscribe", *subscription, client->auth_info);
  co_await call("on_unsubscribe", *subscription, client->auth_info);
  auto data = answer.find("data");
  if (client->active())
    client->send_text(unsubscribe_notice(subscription->name(), data != answer.end() ? &*data : nullptr, error,
                                         subscription->extra_data()));
}

net::awaitable<void> EventHandler::send_heartbeats(std::shared_ptr<Subscription> subscription) {
  auto timer = std::make_shared<net::steady_timer>(services_.executor);
  subscription->periodic_timers.push_back(timer);
  const double period = *subscription->service().heartbeat_period;
  // A random first delay spreads heartbeats after a mass reconnect.
  double delay = period * random_fraction();
  while (true) {
    timer->expires_after(seconds(delay));
    auto [ec] = co_await timer->async_wait(net::as_tuple(net::use_awaitable));
    if (ec || subscription->state != Subscription::State::live) co_return;
    auto client = subscription->owner();
    if (!client || !client->active()) co_return;
    Json answer = co_await call("on_heartbeat", *subscription, client->auth_info);
    if (!answer_ok(answer))
      log::warn("error sending heartbeat to service",
                {{"session", client->id()}, {"subscription", subscription->name()}, {"error", answer.value("error", Json())}});
    delay = period;
  }
}

}  // namespace socketshark::protocol
