#include "socketshark/server/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

#include "socketshark/ops/metrics.hpp"
#include "socketshark/protocol/errors.hpp"
#include "socketshark/protocol/event_handler.hpp"
#include "socketshark/server/hub.hpp"
#include "socketshark/util/logging.hpp"

namespace socketshark::server {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using net::use_awaitable;
constexpr auto no_throw = net::as_tuple(use_awaitable);

namespace {
// A client may run this many events ahead of their handling before its
// frames are no longer read (its callbacks are slow, or it floods).
constexpr std::size_t max_inbox = 64;

std::chrono::steady_clock::duration seconds(double value) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(value));
}
}  // namespace

Session::Session(FrameSocket socket, Hub& hub)
    : ws_(std::move(socket)),
      hub_(hub),
      id_(hub.next_id()),
      events_signal_(ws_.get_executor(), net::steady_timer::time_point::max()),
      ping_timer_(ws_.get_executor()) {
  const auto& rate = hub.settings.limits.client_rate;
  event_rate = protocol::TokenBucket(rate.rate, rate.burst);
}

Session::~Session() = default;

net::awaitable<void> Session::run(Request request, std::string subprotocol, unsigned short reject_code) {
  auto self = std::static_pointer_cast<Session>(shared_from_this());
  const auto& settings = hub_.settings;

  websocket::stream_base::timeout timeouts{};
  // Bounds the upgrade answer and the closing handshake.
  timeouts.handshake_timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(settings.limits.handshake_timeout));
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  ws_.read_message_max(settings.limits.max_message_bytes ? settings.limits.max_message_bytes
                                                          : std::numeric_limits<std::uint64_t>::max());
  ws_.auto_fragment(false);
  ws_.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& response) {
    response.set(beast::http::field::server, "socketshark-cpp/" SOCKETSHARK_VERSION);
    if (!subprotocol.empty()) response.set(beast::http::field::sec_websocket_protocol, subprotocol);
  }));
  ws_.control_callback([this](websocket::frame_type kind, std::string_view) {
    if (kind == websocket::frame_type::pong) on_pong();
  });
  ws_.next_layer().set_send_limit(settings.limits.send_buffer_bytes);

  auto [accept_error] = co_await ws_.async_accept(request, no_throw);
  if (accept_error) {
    log::debug("websocket handshake failed", {{"error", accept_error.message()}});
    co_return;
  }
  request = {};  // this frame lives as long as the session: keep no headers
  open_ = true;
  hub_.add(self);
  hub_.metrics.connection_opened();
  if (!auth_info.empty()) hub_.authenticated(*this);
  log::debug("new session", {{"session", id_}, {"remote", [&] {
                                error_code ec;
                                auto endpoint = ws_.next_layer().socket().remote_endpoint(ec);
                                return ec ? std::string() : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
                              }()}});

  if (reject_code) {
    close(reject_code, "");
  } else {
    if (settings.ws_ping.interval > 0) schedule_ping(seconds(settings.ws_ping.interval));
    if (settings.limits.auth_timeout > 0 && auth_info.empty()) {
      auth_timer_ = std::make_unique<net::steady_timer>(ws_.get_executor(), seconds(settings.limits.auth_timeout));
      auth_timer_->async_wait([this, self](error_code ec) {
        if (ec || !auth_info.empty() || !active()) return;
        log::info("no authentication in time, closing", {{"session", id_}});
        hub_.metrics.refused("auth_timeout");
        close(protocol::close_codes::unauthorized, "");
      });
    }
  }
  net::co_spawn(ws_.get_executor(), handle_events(), [self](std::exception_ptr failure) {
    if (failure) log::error("session event loop failed", {{"session", self->id_}});
  });
  co_await read_frames();
}

net::awaitable<void> Session::read_frames() {
  auto self = shared_from_this();
  std::string close_reason = "client";
  while (true) {
    while (inbox_.size() >= max_inbox && !closing_) {
      // Wait for the event loop to catch up before reading more.
      net::steady_timer pause(ws_.get_executor(), std::chrono::milliseconds(5));
      co_await pause.async_wait(no_throw);
    }
    auto [ec, bytes] = co_await ws_.async_read(read_buffer_, no_throw);
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        hub_.metrics.refused("max_message_bytes");
        close_reason = "too_big";
      } else if (ec != websocket::error::closed && ec != net::error::eof && ec != net::error::connection_reset &&
                 ec != net::error::operation_aborted && !closing_) {
        log::debug("session read ended", {{"session", id_}, {"error", ec.message()}});
      }
      break;
    }
    inbox_.push_back(beast::buffers_to_string(read_buffer_.data()));
    // Idle sessions keep no read buffer: client events are rare next to deliveries.
    read_buffer_.clear();
    read_buffer_.shrink_to_fit();
    wake_events();
  }
  reader_done_ = true;
  if (!closing_) closing_reason_ = close_reason;  // the client, or a frame too big
  closing_ = true;
  ping_timer_.cancel();
  wake_events();
}

void Session::wake_events() { events_signal_.cancel(); }

net::awaitable<void> Session::handle_events() {
  auto self = shared_from_this();
  while (true) {
    if (!active()) break;
    if (inbox_.empty()) {
      events_signal_.expires_at(net::steady_timer::time_point::max());
      co_await events_signal_.async_wait(no_throw);
      continue;
    }
    std::string frame = inbox_.pop_front();
    co_await hub_.events.handle(self, frame);
  }
  inbox_.clear();
  // Closed: run the close callbacks, then forget the session.
  co_await hub_.events.unsubscribe_all(self);
  if (!reader_done_) {
    // We closed it: make sure the socket goes away even if the peer never answers.
    while (!reader_done_) {
      events_signal_.expires_at(net::steady_timer::time_point::max());
      co_await events_signal_.async_wait(no_throw);
    }
  }
  ping_timer_.cancel();
  if (auth_timer_) auth_timer_->cancel();
  log::info("connection closed", {{"session", id_}});
  hub_.metrics.connection_closed(closing_reason_);
  hub_.remove(id_);
}

void Session::send_frame(routing::SharedFrame frame) {
  if (!active()) return;
  if (ws_.next_layer().send(std::move(frame))) return;
  // The client does not read fast enough: drop what it has not received and
  // close it, without delaying anyone else.
  log::warn("client cannot keep up, closing",
            {{"session", id_}, {"queued_bytes", ws_.next_layer().queued_bytes()}});
  hub_.metrics.refused("send_buffer_bytes");
  ws_.next_layer().discard_queued_data();
  close(protocol::close_codes::policy_violation, "");
}

void Session::close(unsigned short code, std::string_view reason) {
  if (closing_ || !open_) return;
  closing_ = true;
  closing_reason_ = std::to_string(code);
  ping_timer_.cancel();
  wake_events();
  auto self = shared_from_this();
  net::post(ws_.get_executor(), [this, self, code, text = std::string(reason)] {
    websocket::close_reason why;
    why.code = code;
    why.reason = text;
    ws_.async_close(why, [this, self](error_code) {
      // The reader ends when the socket closes; make sure it does.
      ws_.next_layer().close();
    });
  });
}

void Session::schedule_ping(std::chrono::steady_clock::duration delay) {
  const auto generation = ++ping_generation_;
  ping_timer_.expires_after(delay);
  auto self = shared_from_this();
  ping_timer_.async_wait([this, self, generation](error_code ec) {
    if (ec || generation != ping_generation_ || !active()) return;
    awaiting_pong_ = true;
    ping_sent_at_ = std::chrono::steady_clock::now();
    ws_.async_ping({}, [](error_code) {});
    const auto wait_generation = ++ping_generation_;
    ping_timer_.expires_after(seconds(hub_.settings.ws_ping.timeout));
    ping_timer_.async_wait([this, self, wait_generation](error_code ec) {
      if (ec || wait_generation != ping_generation_ || !awaiting_pong_ || !active()) return;
      log::warn("ping timeout", {{"session", id_}});
      hub_.metrics.refused("ping_timeout");
      close(protocol::close_codes::ping_timeout, "");
    });
  });
}

void Session::on_pong() {
  if (!awaiting_pong_) return;
  awaiting_pong_ = false;
  const auto latency = std::chrono::steady_clock::now() - ping_sent_at_;
  const auto interval = seconds(hub_.settings.ws_ping.interval);
  schedule_ping(latency < interval ? interval - latency : std::chrono::steady_clock::duration::zero());
}

}  // namespace socketshark::server
