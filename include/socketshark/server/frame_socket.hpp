// The layer beneath Beast's websocket::stream that coalesces writes.
//
// Beast writes one message per async_write and queues nothing. Our data
// frames are encoded once (server frames are unmasked, so the bytes are the
// same for every recipient) and handed to this layer as shared buffers; the
// layer joins everything queued for the socket into one gather write per turn
// of the event loop. Beast's own frames (pong, ping, close) arrive through
// async_write_some as complete frames and are queued the same way, so a
// control frame can never land inside one of ours.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "socketshark/routing/frame.hpp"
#include "socketshark/util/fifo.hpp"

namespace socketshark::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

using routing::SharedFrame;

class FrameSocket {
 public:
  using executor_type = net::any_io_executor;
  using tls_stream = net::ssl::stream<tcp::socket>;
  using write_handler = net::any_completion_handler<void(error_code, std::size_t)>;

  explicit FrameSocket(tcp::socket socket);
  explicit FrameSocket(tls_stream stream);

  executor_type get_executor() const;
  tcp::socket& socket();
  bool is_tls() const;

  // Queues a data frame; false when the queue now holds more than the
  // session's bound (send_buffer_bytes): the caller must close the session.
  bool send(SharedFrame frame);
  // Drops queued data frames that are not yet being written (on overflow).
  void discard_queued_data();
  void set_send_limit(std::size_t bytes);
  std::size_t queued_bytes() const;
  void close();  // closes the TCP socket: every pending operation fails

  // Defined below Core, which they use.
  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler);
  // Beast's own frames: copied (they are small) and queued whole.
  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler);

  struct Core;

 private:
  std::shared_ptr<Core> core_;

  friend void async_teardown_impl(FrameSocket&, write_handler);
};

struct FrameSocket::Core : std::enable_shared_from_this<Core> {
  std::optional<tcp::socket> plain;
  // Behind a pointer: a TLS stream is ~450 bytes that plain sessions would
  // otherwise carry (empty) for their whole life.
  std::unique_ptr<tls_stream> tls;

  struct Entry {
    std::shared_ptr<const std::string> bytes;
    // Set for Beast's frames only. Behind a pointer because Boost 1.81's
    // any_completion_handler cannot be move-assigned from an empty one
    // (it dereferences null), and queue compaction move-assigns entries.
    std::unique_ptr<write_handler> done;
  };
  Fifo<Entry> queue;
  std::vector<net::const_buffer> gather;
  std::size_t in_flight = 0;  // entries at the front being written now
  std::size_t queued_bytes = 0;
  std::size_t send_limit = 0;  // 0 = unlimited
  bool writing = false;
  bool flush_posted = false;
  bool failed = false;

  tcp::socket& lowest();
  void enqueue(std::shared_ptr<const std::string> bytes, std::unique_ptr<write_handler> done);
  void schedule_flush();
  void flush();
  void skip_written(std::size_t written);
  void release_written();
  void on_written(error_code ec);
  void fail_all(error_code ec);
};

template <class MutableBuffers, class Handler>
auto FrameSocket::async_read_some(const MutableBuffers& buffers, Handler&& handler) {
  return net::async_initiate<Handler, void(error_code, std::size_t)>(
      [core = core_](auto h, const MutableBuffers& b) {
        if (core->tls)
          core->tls->async_read_some(b, std::move(h));
        else
          core->plain->async_read_some(b, std::move(h));
      },
      handler, buffers);
}

template <class ConstBuffers, class Handler>
auto FrameSocket::async_write_some(const ConstBuffers& buffers, Handler&& handler) {
  return net::async_initiate<Handler, void(error_code, std::size_t)>(
      [core = core_](auto h, const ConstBuffers& b) {
        auto bytes = std::make_shared<std::string>(net::buffer_size(b), '\0');
        net::buffer_copy(net::buffer(bytes->data(), bytes->size()), b);
        core->enqueue(std::move(bytes), std::make_unique<write_handler>(std::move(h)));
      },
      handler, buffers);
}

// Beast's customization points, found by argument-dependent lookup.
void teardown(boost::beast::role_type role, FrameSocket& socket, error_code& ec);

template <class TeardownHandler>
void async_teardown(boost::beast::role_type, FrameSocket& socket, TeardownHandler&& handler) {
  async_teardown_impl(socket, FrameSocket::write_handler(
                                  [h = std::forward<TeardownHandler>(handler)](error_code ec, std::size_t) mutable {
                                    std::move(h)(ec);
                                  }));
}
void async_teardown_impl(FrameSocket& socket, FrameSocket::write_handler done);

void beast_close_socket(FrameSocket& socket);

}  // namespace socketshark::server
