// One WebSocket connection: reads frames, handles its events one after
// another, owns its write queue (in FrameSocket), ping timer and
// subscriptions, and cleans all of them up on close.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "socketshark/routing/client.hpp"
#include "socketshark/server/frame_socket.hpp"
#include "socketshark/util/fifo.hpp"

namespace socketshark::server {

class Hub;

class Session : public routing::Client {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  Session(FrameSocket socket, Hub& hub);
  ~Session() override;

  // Completes the upgrade, then leaves the connection to callbacks: the
  // coroutine (and the request it holds) ends with the handshake, so an idle
  // session keeps no coroutine frame. `subprotocol`: echoed in the handshake
  // answer when non-empty. `reject_code`: when non-zero the session is closed
  // with it right after the upgrade (a browser cannot read an HTTP status
  // from a failed upgrade).
  boost::asio::awaitable<void> run(Request request, std::string subprotocol, unsigned short reject_code);

  void send_frame(routing::SharedFrame frame) override;
  void close(unsigned short code, std::string_view reason) override;
  bool active() const override { return open_ && !closing_; }
  std::uint64_t id() const override { return id_; }

 private:
  std::shared_ptr<Session> self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  void read_next();
  void on_message_started(error_code ec, std::size_t bytes);
  void on_message(error_code ec);
  void reader_finished(error_code ec);
  boost::asio::awaitable<void> handle_events();
  void forget();
  void schedule_ping(std::chrono::steady_clock::duration delay);
  void on_pong();
  void wake_events();

  // No permessage-deflate: it is never offered (Beast's default), and the
  // stream is smaller without it.
  boost::beast::websocket::stream<FrameSocket, false> ws_;
  Hub& hub_;
  std::uint64_t id_;
  boost::beast::flat_buffer read_buffer_;  // holds memory only while a message is read
  char first_byte_ = 0;                    // a message's first byte, read while waiting for it
  std::size_t first_bytes_ = 0;            // 1, or 0 for an empty message
  Fifo<std::string> inbox_;
  std::unique_ptr<boost::asio::steady_timer> ping_timer_;  // only when ws_ping.interval > 0
  std::unique_ptr<boost::asio::steady_timer> auth_timer_;  // limits.auth_timeout, only when set
  std::chrono::steady_clock::time_point ping_sent_at_;
  std::uint64_t ping_generation_ = 0;
  bool awaiting_pong_ = false;
  bool open_ = false;            // upgrade done
  bool closing_ = false;         // close started (by us, or the reader ended)
  bool reader_done_ = false;     // no read pending any more
  bool events_running_ = false;  // handle_events is running (or cleaning up)
  bool unsubscribed_ = false;    // close callbacks done
  std::string closing_reason_ = "client";  // metrics label: who ended it
};

}  // namespace socketshark::server
