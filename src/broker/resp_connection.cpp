#include "socketshark/broker/resp_connection.hpp"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <algorithm>
#include <array>
#include <string_view>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace socketshark::broker {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

constexpr std::array<std::string_view, 3> kMessagePushes = {"message", "smessage", "pmessage"};
constexpr std::array<std::string_view, 6> kSubscriptionPushes = {"subscribe",   "ssubscribe",   "psubscribe",
                                                                 "unsubscribe", "sunsubscribe", "punsubscribe"};

bool is_one_of(std::string_view word, const auto& words) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

std::string_view text_of(const redisReply* reply) {
  if (!reply || !reply->str) return {};
  return {reply->str, reply->len};
}

// The first element of a push array ("smessage", "ssubscribe", ...), or "".
std::string_view push_kind(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements == 0 || reply.element[0]->type != REDIS_REPLY_STRING) return {};
  return text_of(reply.element[0]);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

}  // namespace

std::string RespConnection::address_of(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::shared_ptr<RespConnection> RespConnection::open(net::any_io_executor executor, std::string host,
                                                     std::uint16_t port, double connect_timeout, Events events) {
  std::shared_ptr<RespConnection> connection(
      new RespConnection(std::move(executor), std::move(host), port, std::move(events)));
  connection->start(connect_timeout);
  return connection;
}

RespConnection::RespConnection(net::any_io_executor executor, std::string host, std::uint16_t port, Events events)
    : host_(std::move(host)),
      port_(port),
      address_(address_of(host_, port_)),
      resolver_(executor),
      socket_(executor),
      connect_timer_(executor),
      reader_(redisReaderCreate()),
      events_(std::move(events)),
      read_buffer_(kReadChunk) {}

RespConnection::~RespConnection() {
  if (reader_) redisReaderFree(reader_);
}

void RespConnection::start(double connect_timeout) {
  if (!reader_) {
    // Posted: the owner must get the object before any callback runs.
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->fail("out of memory"); });
    return;
  }
  connect_timer_.expires_after(std::chrono::duration_cast<net::steady_timer::duration>(
      std::chrono::duration<double>(connect_timeout)));
  connect_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->state_ != State::connecting) return;
    self->fail("connect timeout");
  });
  resolver_.async_resolve(
      host_, std::to_string(port_),
      [self = shared_from_this()](boost::system::error_code ec, tcp::resolver::results_type endpoints) {
        if (self->state_ != State::connecting) return;
        if (ec) {
          self->fail("cannot resolve " + self->host_ + ": " + ec.message());
          return;
        }
        net::async_connect(self->socket_, endpoints, [self](boost::system::error_code ec, const tcp::endpoint&) {
          if (self->state_ != State::connecting) return;
          if (ec) {
            self->fail("connect failed: " + ec.message());
            return;
          }
          self->connect_timer_.cancel();
          boost::system::error_code ignored;
          self->socket_.set_option(tcp::no_delay(true), ignored);
          self->state_ = State::connected;
          self->read();
          self->write();
          if (self->events_.on_connected) self->events_.on_connected();
        });
      });
}

void RespConnection::command(const std::vector<std::string>& args, ReplyHandler on_reply) {
  if (state_ == State::closed || args.empty()) return;
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  char* formatted = nullptr;
  const int length = redisFormatCommandArgv(&formatted, static_cast<int>(args.size()), argv.data(), lengths.data());
  if (length < 0 || !formatted) {
    // Posted: callers are not ready for callbacks from inside command().
    net::post(socket_.get_executor(),
              [self = shared_from_this(), what = args.front()] { self->fail("cannot format command " + what); });
    return;
  }
  outgoing_.append(formatted, static_cast<std::size_t>(length));
  redisFreeCommand(formatted);

  Pending pending{.confirmation = {}, .channel = {}, .on_reply = std::move(on_reply)};
  const std::string name = lower(args.front());
  if (is_one_of(name, kSubscriptionPushes) && args.size() == 2) {
    pending.confirmation = name;
    pending.channel = args[1];
  }
  pending_.push_back(std::move(pending));
  write();
}

void RespConnection::close() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  events_ = {};
  pending_.clear();
  resolver_.cancel();
  connect_timer_.cancel();
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

void RespConnection::fail(const std::string& why) {
  if (state_ == State::closed) return;
  auto on_closed = std::move(events_.on_closed);
  const std::size_t unanswered = pending_.size();
  close();
  if (on_closed) on_closed(why, unanswered);
}

void RespConnection::write() {
  if (state_ != State::connected || write_in_flight_ || outgoing_.empty()) return;
  // Everything queued meanwhile goes out in one write.
  writing_.swap(outgoing_);
  outgoing_.clear();
  write_in_flight_ = true;
  net::async_write(socket_, net::buffer(writing_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->write_in_flight_ = false;
    if (self->state_ != State::connected) return;
    if (ec) {
      self->fail("write failed: " + ec.message());
      return;
    }
    self->writing_.clear();
    self->write();
  });
}

void RespConnection::read() {
  socket_.async_read_some(net::buffer(read_buffer_), [self = shared_from_this()](boost::system::error_code ec,
                                                                                std::size_t size) {
    if (self->state_ != State::connected) return;
    if (ec) {
      self->fail(ec == net::error::eof ? "closed by the server" : "read failed: " + ec.message());
      return;
    }
    if (redisReaderFeed(self->reader_, self->read_buffer_.data(), size) != REDIS_OK) {
      self->fail(std::string("protocol error: ") + self->reader_->errstr);
      return;
    }
    // Parse everything first: each reply then knows how many follow it.
    std::vector<ReplyPtr> replies;
    for (;;) {
      void* reply = nullptr;
      if (redisReaderGetReply(self->reader_, &reply) != REDIS_OK) {
        self->fail(std::string("protocol error: ") + self->reader_->errstr);
        return;
      }
      if (!reply) break;
      replies.emplace_back(static_cast<redisReply*>(reply), freeReplyObject);
    }
    for (std::size_t i = 0; i < replies.size(); ++i) {
      self->dispatch(*replies[i], replies.size() - i - 1);
      if (self->state_ != State::connected) return;  // closed by a callback
    }
    self->read();
  });
}

void RespConnection::dispatch(const redisReply& reply, std::size_t queued_after) {
  const std::string_view kind = push_kind(reply);
  if (!kind.empty() && is_one_of(kind, kMessagePushes)) {
    if (events_.on_push) events_.on_push(reply, queued_after);
    return;
  }
  if (!kind.empty() && is_one_of(kind, kSubscriptionPushes)) {
    const bool answers_oldest = !pending_.empty() && pending_.front().confirmation == kind && reply.elements >= 2 &&
                                text_of(reply.element[1]) == pending_.front().channel;
    if (answers_oldest) {
      answer(reply);
    } else if (events_.on_push) {
      events_.on_push(reply, queued_after);
    }
    return;
  }
  if (pending_.empty()) {
    fail("reply to no command (type " + std::to_string(reply.type) + ")");
    return;
  }
  if (!pending_.front().confirmation.empty() && reply.type != REDIS_REPLY_ERROR) {
    fail("unexpected reply to " + pending_.front().confirmation + " " + pending_.front().channel);
    return;
  }
  answer(reply);
}

void RespConnection::answer(const redisReply& reply) {
  auto on_reply = std::move(pending_.front().on_reply);
  pending_.pop_front();
  if (on_reply) on_reply(reply);
}

}  // namespace socketshark::broker
