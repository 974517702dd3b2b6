// One connection to a Redis node speaking RESP2, driven by Asio (a tcp::socket
// on the caller's executor, no threads). hiredis 0.14's async API cannot be
// used for Redis Cluster: it knows nothing of SSUBSCRIBE/smessage and asserts
// on (or drops) pushes it cannot match. Here hiredis only formats commands
// (redisFormatCommandArgv) and parses replies (redisReader); the matching is
// ours:
//  - message pushes (message, smessage, pmessage) go to on_push;
//  - a subscription push (subscribe, ssubscribe, unsubscribe, sunsubscribe,
//    psubscribe, punsubscribe) answers the oldest command if that command is
//    the same (un)subscribe of the same channel, else it is unsolicited (the
//    server dropped a subscription: slot migrated) and goes to on_push;
//  - every other reply, errors included, answers the oldest command (FIFO).
// Commands issued before the connection is up are sent once it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

struct redisReply;
struct redisReader;

namespace socketshark::broker {

class RespConnection : public std::enable_shared_from_this<RespConnection> {
 public:
  // The reply to one command; an error reply (REDIS_REPLY_ERROR) included.
  using ReplyHandler = std::function<void(const redisReply& reply)>;
  struct Events {
    std::function<void()> on_connected;
    // `queued_after`: replies read with this one and not yet dispatched.
    std::function<void(const redisReply& push, std::size_t queued_after)> on_push;
    // The connection failed or the server closed it; pending commands are
    // dropped unanswered (`unanswered` of them). Not called after close().
    std::function<void(const std::string& why, std::size_t unanswered)> on_closed;
  };

  // Resolves and connects; gives up after `connect_timeout` seconds.
  static std::shared_ptr<RespConnection> open(boost::asio::any_io_executor executor, std::string host,
                                              std::uint16_t port, double connect_timeout, Events events);
  ~RespConnection();

  RespConnection(const RespConnection&) = delete;
  RespConnection& operator=(const RespConnection&) = delete;

  // Queues a command. (Un)subscribe commands take exactly one channel each:
  // their confirmation push is the reply.
  void command(const std::vector<std::string>& args, ReplyHandler on_reply = {});
  // Closes at once; no callback is called afterwards.
  void close();
  // Closes and reports `why` through on_closed, as a failure of the connection.
  void abort(const std::string& why) { fail(why); }

  bool connected() const { return state_ == State::connected; }
  // "host:port" ("[v6]:port"), for logs.
  const std::string& address() const { return address_; }
  static std::string address_of(const std::string& host, std::uint16_t port);

 private:
  RespConnection(boost::asio::any_io_executor executor, std::string host, std::uint16_t port, Events events);

  enum class State { connecting, connected, closed };
  struct Pending {
    std::string confirmation;  // push kind that answers it ("" = any non-push reply)
    std::string channel;       // for (un)subscribe commands
    ReplyHandler on_reply;
  };
  using ReplyPtr = std::unique_ptr<redisReply, void (*)(void*)>;

  void start(double connect_timeout);
  void read();
  void write();
  void dispatch(const redisReply& reply, std::size_t queued_after);
  void answer(const redisReply& reply);
  void fail(const std::string& why);

  std::string host_;
  std::uint16_t port_;
  std::string address_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer connect_timer_;
  redisReader* reader_;
  Events events_;
  State state_ = State::connecting;
  std::deque<Pending> pending_;
  std::string outgoing_;  // formatted commands not yet handed to the socket
  std::string writing_;   // the bytes of the write in flight
  bool write_in_flight_ = false;
  std::vector<char> read_buffer_;
};

}  // namespace socketshark::broker
