#include "socketshark/app.hpp"

#include <csignal>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "socketshark/broker/cluster_broker.hpp"
#include "socketshark/broker/memory_broker.hpp"
#include "socketshark/broker/redis_broker.hpp"
#include "socketshark/protocol/errors.hpp"
#include "socketshark/server/session.hpp"
#include "socketshark/util/logging.hpp"

namespace socketshark {

namespace net = boost::asio;

namespace {

std::unique_ptr<broker::Broker> make_broker(const config::Settings& settings, net::any_io_executor executor,
                                            ops::Metrics& metrics) {
  if (settings.broker == config::BrokerKind::redis && settings.redis.cluster) {
    if (settings.redis_alt) log::warn("redis_alt is ignored with redis.cluster");
    return std::make_unique<broker::ClusterBroker>(executor, settings.redis, metrics);
  }
  if (settings.broker == config::BrokerKind::redis)
    return std::make_unique<broker::RedisBroker>(executor, settings.redis, settings.redis_alt, metrics);
  return std::make_unique<broker::MemoryBroker>(executor);
}

void log_failure(std::exception_ptr failure, const char* what) {
  if (!failure) return;
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    log::error(what, {{"error", e.what()}});
  }
}

}  // namespace

App::App(config::Settings settings)
    : settings_(std::move(settings)),
      metrics_(settings_.metrics),
      jwt_(settings_.authentication.jwt ? std::make_unique<auth::JwtVerifier>(*settings_.authentication.jwt) : nullptr),
      broker_(make_broker(settings_, io_.get_executor(), metrics_)),
      registry_(io_.get_executor(), *broker_, metrics_),
      http_(io_.get_executor(), settings_.http, metrics_),
      events_(protocol::Services{settings_, registry_, http_, metrics_, io_.get_executor(), jwt_.get()}),
      hub_(settings_, events_, metrics_),
      listener_(io_.get_executor(), hub_, [this] { return ready(); }, jwt_.get()),
      signals_(io_, SIGINT, SIGTERM),
      drain_timer_(io_) {
  events_.on_authenticated([this](routing::Client& client) { hub_.authenticated(static_cast<server::Session&>(client)); });
  if (settings_.metrics.prometheus)
    admin_.emplace(io_.get_executor(), settings_, metrics_, *broker_, [this] { return ready(); });
}

App::~App() = default;

bool App::ready() const { return broker_connected_ && listener_.is_open() && !stopping_; }

void App::update_readiness() {
  metrics_.set_ready(ready());
  if (ready() && !announced_ready_) {
    announced_ready_ = true;
    log::info("ready", {{"host", settings_.ws_host},
                        {"port", listener_.port()},
                        {"secure", settings_.ws_ssl.enabled()},
                        {"broker", settings_.broker == config::BrokerKind::redis ? "redis" : "memory"}});
  }
}

void App::on_broker_state(bool connected) {
  const bool was = broker_connected_;
  broker_connected_ = connected;
  if (was && !connected) {
    // Nothing can be delivered: clients reconnect (elsewhere) and resubscribe.
    log::error("broker connection lost: closing all sessions", {{"sessions", hub_.size()}});
    hub_.close_all(protocol::close_codes::service_restart);
    announced_ready_ = false;
  }
  update_readiness();
}

int App::run() {
  try {
    listener_.open();
    if (admin_) admin_->open();
  } catch (const std::exception& e) {
    log::error("cannot listen", {{"error", e.what()}});
    return 1;
  }
  broker_->start([this](std::string_view name, std::string_view payload,
                        std::size_t queue_size) { registry_.on_broker_message(name, payload, queue_size); },
                 [this](bool connected) { on_broker_state(connected); });
  net::co_spawn(io_, listener_.run(), [](std::exception_ptr e) { log_failure(e, "listener failed"); });
  if (admin_) {
    net::co_spawn(io_, admin_->run(), [](std::exception_ptr e) { log_failure(e, "admin server failed"); });
    log::info("admin server listening", {{"host", settings_.metrics.prometheus->host}, {"port", admin_->port()}});
  }
  hub_.on_removed = [this] { finish_if_drained(); };
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (!ec) on_signal(signal);
  });
  update_readiness();
  io_.run();
  log::info("done");
  return 0;
}

void App::on_signal(int signal) {
  ++signals_received_;
  signals_.async_wait([this](const boost::system::error_code& ec, int next) {
    if (!ec) on_signal(next);
  });
  if (signals_received_ == 1) {
    log::info("shutting down", {{"signal", signal}, {"sessions", hub_.size()},
                                {"drain_seconds", settings_.shutdown.drain_seconds}});
    stopping_ = true;
    listener_.close();
    update_readiness();
    if (settings_.shutdown.drain_seconds > 0 && hub_.size() > 0) {
      drain_next();
    } else {
      hub_.close_all(protocol::close_codes::going_away);
    }
  } else {
    log::info("second signal: closing every session now", {{"sessions", hub_.size()}});
    drain_timer_.cancel();
    hub_.close_all(protocol::close_codes::going_away);
    if (signals_received_ > 2) io_.stop();
  }
  finish_if_drained();
}

// Closes one session, then waits drain_seconds / sessions before the next,
// so reconnecting clients spread over the period instead of arriving at once.
void App::drain_next() {
  if (!hub_.close_oldest(protocol::close_codes::going_away)) return;
  const std::size_t remaining = std::max<std::size_t>(hub_.size(), 1);
  const double step = settings_.shutdown.drain_seconds / static_cast<double>(remaining);
  drain_timer_.expires_after(std::chrono::duration_cast<net::steady_timer::duration>(std::chrono::duration<double>(step)));
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) drain_next();
  });
}

void App::finish_if_drained() {
  if (!stopping_ || hub_.size() > 0) return;
  drain_timer_.cancel();
  signals_.cancel();
  if (admin_) admin_->close();
  broker_->stop();
  http_.shutdown();
  // Let the last close frames and callbacks finish their turn, then end.
  net::post(io_, [this] { io_.stop(); });
}

}  // namespace socketshark
