#include "socketshark/server/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
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

Session::Session(FrameSocket socket, Hub& hub) : ws_(std::move(socket)), hub_(hub), id_(hub.next_id()) {
  const auto& rate = hub.settings.limits.client_rate;
  event_rate = protocol::TokenBucket(rate.rate, rate.burst);
}

Session::~Session() = default;

net::awaitable<void> Session::run(Request request, std::string subprotocol, unsigned short reject_code) {
  auto self = this->self();
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
  // From here on the pending read (and, while there are events, the event
  // loop) keeps the session alive; this frame and the request go away.
  read_next();
}

// Reads the next client message in two steps. The first waits for the
// message's first byte: Beast reads the frame header into its own frame
// buffer (and answers pings meanwhile), so an idle session holds no message
// buffer. The second reads the rest of the message into read_buffer_. (One
// byte, not none: Beast 1.81 crashes validating UTF-8 into an empty buffer.)
void Session::read_next() {
  if (inbox_.size() >= max_inbox && !closing_) {
    // Wait for the event loop to catch up before reading more.
    auto pause = std::make_shared<net::steady_timer>(ws_.get_executor(), std::chrono::milliseconds(5));
    pause->async_wait([self = self(), pause](error_code) { self->read_next(); });
    return;
  }
  ws_.async_read_some(net::buffer(&first_byte_, 1),
                      [self = self()](error_code ec, std::size_t bytes) { self->on_message_started(ec, bytes); });
}

void Session::on_message_started(error_code ec, std::size_t bytes) {
  if (ec) return reader_finished(ec);
  first_bytes_ = bytes;  // 0 for an empty message
  if (ws_.is_message_done()) return on_message({});
  ws_.async_read(read_buffer_, [self = self()](error_code ec, std::size_t) { self->on_message(ec); });
}

void Session::on_message(error_code ec) {
  if (ec) return reader_finished(ec);
  const auto rest = read_buffer_.data();
  std::string frame;
  frame.reserve(first_bytes_ + rest.size());
  frame.append(&first_byte_, first_bytes_);
  frame.append(static_cast<const char*>(rest.data()), rest.size());
  inbox_.push_back(std::move(frame));
  // Idle sessions keep no read buffer: client events are rare next to deliveries.
  read_buffer_.clear();
  read_buffer_.shrink_to_fit();
  wake_events();
  read_next();
}

void Session::reader_finished(error_code ec) {
  std::string close_reason = "client";
  if (ec == websocket::error::message_too_big) {
    hub_.metrics.refused("max_message_bytes");
    close_reason = "too_big";
  } else if (ec != websocket::error::closed && ec != net::error::eof && ec != net::error::connection_reset &&
             ec != net::error::operation_aborted && !closing_) {
    log::debug("session read ended", {{"session", id_}, {"error", ec.message()}});
  }
  reader_done_ = true;
  if (!closing_) closing_reason_ = close_reason;  // the client, or a frame too big
  closing_ = true;
  if (ping_timer_) ping_timer_->cancel();
  if (unsubscribed_) {
    forget();  // we closed it and the close callbacks already ran
  } else {
    wake_events();
  }
}

// Starts the event loop unless it runs already. Posted, never run inline:
// the caller may be in the middle of a fan-out or of another session's close.
void Session::wake_events() {
  if (events_running_) return;
  events_running_ = true;
  net::post(ws_.get_executor(), [self = self()] {
    net::co_spawn(self->ws_.get_executor(), self->handle_events(), [self](std::exception_ptr failure) {
      if (failure) log::error("session event loop failed", {{"session", self->id_}});
    });
  });
}

// Handles the queued events one after another and ends when the inbox is
// empty, so that an idle session keeps no suspended coroutine; once the
// session is closed it runs the close callbacks instead.
net::awaitable<void> Session::handle_events() {
  auto self = this->self();
  while (active() && !inbox_.empty()) {
    std::string frame = inbox_.pop_front();
    co_await hub_.events.handle(self, frame);
  }
  if (active()) {
    inbox_ = {};  // keep no capacity while idle
    events_running_ = false;
    co_return;
  }
  inbox_.clear();
  // Closed: run the close callbacks, then forget the session. events_running_
  // stays set: the loop never starts again.
  co_await hub_.events.unsubscribe_all(self);
  unsubscribed_ = true;
  // Otherwise we closed it: the reader ends when the socket closes (close()
  // makes sure it does, even if the peer never answers) and forgets it then.
  if (reader_done_) forget();
}

void Session::forget() {
  if (ping_timer_) ping_timer_->cancel();
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
  if (ping_timer_) ping_timer_->cancel();
  wake_events();
  auto self = this->self();
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
  if (!ping_timer_) ping_timer_ = std::make_unique<net::steady_timer>(ws_.get_executor());
  ping_timer_->expires_after(delay);
  auto self = this->self();
  ping_timer_->async_wait([this, self, generation](error_code ec) {
    if (ec || generation != ping_generation_ || !active()) return;
    awaiting_pong_ = true;
    ping_sent_at_ = std::chrono::steady_clock::now();
    ws_.async_ping({}, [](error_code) {});
    const auto wait_generation = ++ping_generation_;
    ping_timer_->expires_after(seconds(hub_.settings.ws_ping.timeout));
    ping_timer_->async_wait([this, self, wait_generation](error_code ec) {
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
