// The load generator's WebSocket client: raw non-blocking sockets on one
// epoll loop, masked client frames (RFC 6455), server frames parsed in a loop
// from one read, frames counted without a JSON parse (only the fields a
// scenario needs are scanned).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace bench {

enum class ServerKind { socketshark, nchan };

struct ClientConfig {
  ServerKind server = ServerKind::socketshark;
  int port = 0;
  bool auth = false;             // socketshark: send {"event":"auth","ticket":...} first
  std::string ticket = "bench";
  std::size_t concurrency = 500;  // connections being set up at the same time
  bool latency = false;          // scan "t" and "seq" of every message
  // socketshark: a connection counts as set up once it is "open" (101),
  // "auth" (auth answered) or "subscribed" (the default).
  std::string stop_at = "subscribed";
};

class Client;

class WsConn final : public Handler {
 public:
  enum class State { idle, connecting, handshake, auth_wait, sub_wait, ready, closed, failed };

  WsConn(Client& client, std::size_t index, std::string subscription, int rcvbuf)
      : client_(client), index_(index), subscription_(std::move(subscription)), rcvbuf_(rcvbuf) {}

  void start();
  void on_event(std::uint32_t events) override;
  void pause(bool paused);
  void shut_rst();

  State state() const { return state_; }
  std::size_t index() const { return index_; }
  bool slow = false;  // excluded from the latency figures

  std::int64_t t_start = 0, t_ready = 0;
  std::int64_t t_open = 0, t_auth = 0;  // 101 received, auth answered
  std::uint64_t frames = 0;  // messages received once ready
  std::int64_t last_seq = -1;
  std::uint64_t gaps = 0, dups = 0;
  int close_code = -1;  // close frame's code; 1006 = closed without one
  std::string error;

 private:
  void update_events();
  void on_readable();
  std::size_t on_handshake(char* buf, std::size_t len);
  std::size_t parse_frames(const char* buf, std::size_t len);
  void on_frame(int opcode, const char* payload, std::size_t n);
  void on_text(std::string_view text);
  void send_frame(int opcode, std::string_view payload);
  void send_text(std::string_view text) { send_frame(1, text); }
  void send_raw(std::string_view data);
  void flush_out();
  void fail(const std::string& why);
  void closed(int code);

  Client& client_;
  std::size_t index_;
  std::string subscription_;
  int rcvbuf_;
  int fd_ = -1;
  State state_ = State::idle;
  std::uint32_t armed_ = 0;
  bool paused_ = false;
  bool close_sent_ = false;
  std::string carry_;  // bytes of an incomplete frame (or handshake answer)
  std::string out_;
  std::size_t out_off_ = 0;
};

class Client {
 public:
  explicit Client(ClientConfig config) : config(std::move(config)) {}

  ClientConfig config;
  Loop loop;
  std::vector<char> scratch = std::vector<char>(256 * 1024);
  std::vector<std::unique_ptr<WsConn>> conns;

  std::size_t next = 0, in_setup = 0, ready = 0, failed = 0, lost_after_ready = 0;
  std::uint64_t messages = 0;  // all messages received by ready connections
  std::int64_t last_ready_ns = 0;
  std::vector<std::int64_t> setup_ns;
  std::vector<std::int64_t> latency_ns;  // non-slow connections
  std::map<int, int> close_codes;
  std::string first_error;

  WsConn& add(std::string subscription, int rcvbuf = 0) {
    conns.push_back(std::make_unique<WsConn>(*this, conns.size(), std::move(subscription), rcvbuf));
    return *conns.back();
  }

  // Starts connections until `concurrency` are being set up.
  void pump() {
    if (pumping_) return;
    pumping_ = true;
    while (in_setup < config.concurrency && next < conns.size()) {
      ++in_setup;
      conns[next++]->start();
    }
    pumping_ = false;
  }

  // Sets up every connection (bounded by timeout); true when all are ready.
  bool setup_all(double timeout_s) {
    const auto deadline = mono_ns() + from_s(timeout_s);
    pump();
    while (ready + failed < conns.size() && mono_ns() < deadline) {
      loop.poll(10000000);
      pump();
    }
    if (ready + failed < conns.size() && first_error.empty()) first_error = "setup timed out";
    return ready == conns.size();
  }

  // Keeps the loop running (answering pings, counting) for `seconds`.
  void idle(double seconds) {
    const auto end = mono_ns() + from_s(seconds);
    for (auto now = mono_ns(); now < end; now = mono_ns()) loop.poll(end - now);
  }

  void close_all() {
    for (auto& c : conns) c->shut_rst();
  }

  // Called by the connections.
  void on_ready(WsConn& c) {
    c.t_ready = mono_ns();
    last_ready_ns = c.t_ready;
    setup_ns.push_back(c.t_ready - c.t_start);
    ++ready;
    --in_setup;
    pump();
  }
  void on_setup_failed(WsConn& c) {
    ++failed;
    --in_setup;
    if (first_error.empty()) first_error = c.error;
    pump();
  }
  void on_lost(WsConn& c) {
    ++lost_after_ready;
    ++close_codes[c.close_code];
  }
  void on_message(WsConn& c, std::string_view text) {
    ++messages;
    ++c.frames;
    if (!config.latency) return;
    std::int64_t t = 0, seq = 0;
    if (json_int(text, "t", t) && !c.slow) latency_ns.push_back(mono_ns() - t);
    if (json_int(text, "seq", seq)) {
      if (seq == c.last_seq + 1) {
      } else if (seq <= c.last_seq) {
        ++c.dups;
      } else {
        c.gaps += std::uint64_t(seq - c.last_seq - 1);
      }
      if (seq > c.last_seq) c.last_seq = seq;
    }
  }

 private:
  bool pumping_ = false;
};

// ------------------------------------------------------------------ WsConn
inline void WsConn::start() {
  t_start = mono_ns();
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    fail(std::string("socket: ") + std::strerror(errno));
    return;
  }
  if (rcvbuf_ > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf_, sizeof rcvbuf_);
  set_nodelay(fd_);
  auto addr = loopback(client_.config.port);
  state_ = State::connecting;
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    fail(std::string("connect: ") + std::strerror(errno));
    return;
  }
  armed_ = EPOLLOUT;
  client_.loop.add(fd_, armed_, this);
}

inline void WsConn::update_events() {
  if (fd_ < 0) return;
  std::uint32_t want = paused_ ? 0u : std::uint32_t(EPOLLIN);
  if (state_ == State::connecting || out_off_ < out_.size()) want |= EPOLLOUT;
  if (want != armed_) {
    armed_ = want;
    client_.loop.mod(fd_, want, this);
  }
}

inline void WsConn::pause(bool paused) {
  paused_ = paused;
  update_events();
}

inline void WsConn::on_event(std::uint32_t ev) {
  if (fd_ < 0) return;
  if (state_ == State::connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      fail(std::string("connect: ") + std::strerror(err));
      return;
    }
    if (!(ev & EPOLLOUT)) return;
    state_ = State::handshake;
    const auto& cfg = client_.config;
    std::string path = cfg.server == ServerKind::nchan ? "/sub/" + subscription_ : "/";
    send_raw("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(cfg.port) +
             "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    update_events();
    return;
  }
  if (ev & EPOLLOUT) flush_out();
  if (fd_ >= 0 && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable();
}

inline void WsConn::on_readable() {
  auto& scratch = client_.scratch;
  for (int round = 0; round < 4 && fd_ >= 0; ++round) {
    const std::size_t have = carry_.size();
    if (have * 2 > scratch.size()) scratch.resize(have * 2 + 65536);
    if (have) std::memcpy(scratch.data(), carry_.data(), have);
    const std::size_t room = scratch.size() - have;
    ssize_t n = recv(fd_, scratch.data() + have, room, 0);
    if (n == 0) {
      closed(close_code >= 0 ? close_code : 1006);
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      if (state_ == State::ready) {
        closed(close_code >= 0 ? close_code : 1006);
      } else {
        fail(std::string("read: ") + std::strerror(errno));
      }
      return;
    }
    carry_.clear();
    const std::size_t len = have + std::size_t(n);
    std::size_t used = 0;
    if (state_ == State::handshake) used = on_handshake(scratch.data(), len);
    if (fd_ >= 0 && state_ != State::handshake && used < len) used += parse_frames(scratch.data() + used, len - used);
    if (fd_ < 0) return;
    if (used < len) carry_.assign(scratch.data() + used, len - used);
    if (std::size_t(n) < room) return;  // drained the socket
  }
}

inline std::size_t WsConn::on_handshake(char* buf, std::size_t len) {
  std::string_view s(buf, len);
  auto end = s.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (len > 16384) fail("handshake answer too long");
    return 0;
  }
  if (s.rfind("HTTP/1.1 101", 0) != 0) {
    fail("handshake refused: " + std::string(s.substr(0, s.find("\r\n"))));
    return 0;
  }
  t_open = mono_ns();
  const auto& cfg = client_.config;
  if (cfg.server == ServerKind::nchan || cfg.stop_at == "open") {
    state_ = State::ready;  // nchan subscribes (and authorizes) before the 101
    client_.on_ready(*this);
  } else if (cfg.auth) {
    state_ = State::auth_wait;
    send_text(R"({"event":"auth","ticket":")" + cfg.ticket + "\"}");
  } else {
    state_ = State::sub_wait;
    send_text(R"({"event":"subscribe","subscription":")" + subscription_ + "\"}");
  }
  return end + 4;
}

inline std::size_t WsConn::parse_frames(const char* buf, std::size_t len) {
  std::size_t off = 0;
  while (len - off >= 2 && fd_ >= 0) {
    const auto* p = reinterpret_cast<const unsigned char*>(buf + off);
    const int opcode = p[0] & 0x0f;
    std::uint64_t n = p[1] & 0x7f;
    std::size_t header = 2;
    if (n == 126) {
      if (len - off < 4) break;
      n = (std::uint64_t(p[2]) << 8) | p[3];
      header = 4;
    } else if (n == 127) {
      if (len - off < 10) break;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | p[2 + i];
      header = 10;
    }
    if (p[1] & 0x80) header += 4;  // servers never mask; skip the key if one did
    if (len - off < header + n) {
      auto& scratch = client_.scratch;
      if ((header + n) * 2 > scratch.size()) scratch.resize((header + n) * 2 + 65536);
      break;
    }
    on_frame(opcode, buf + off + header, std::size_t(n));
    off += header + std::size_t(n);
  }
  return off;
}

inline void WsConn::on_frame(int opcode, const char* payload, std::size_t n) {
  switch (opcode) {
    case 0:  // continuation: counted with its first fragment
      return;
    case 1:
    case 2:
      on_text(std::string_view(payload, n));
      return;
    case 8: {
      close_code = n >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]) : 1005;
      if (!close_sent_) {
        close_sent_ = true;
        send_frame(8, std::string_view(payload, std::min<std::size_t>(n, 2)));
      }
      closed(close_code);
      return;
    }
    case 9:
      send_frame(10, std::string_view(payload, n));
      return;
    default:
      return;
  }
}

inline void WsConn::on_text(std::string_view text) {
  switch (state_) {
    case State::ready:
      client_.on_message(*this, text);
      return;
    case State::auth_wait:
      if (json_string_is(text, "status", "ok")) {
        t_auth = mono_ns();
        if (client_.config.stop_at == "auth") {
          state_ = State::ready;
          client_.on_ready(*this);
          return;
        }
        state_ = State::sub_wait;
        send_text(R"({"event":"subscribe","subscription":")" + subscription_ + "\"}");
      } else {
        fail("auth refused: " + std::string(text.substr(0, 200)));
      }
      return;
    case State::sub_wait:
      if (json_string_is(text, "event", "subscribe") && json_string_is(text, "status", "ok")) {
        state_ = State::ready;
        client_.on_ready(*this);
      } else if (!json_string_is(text, "event", "message")) {
        fail("subscribe refused: " + std::string(text.substr(0, 200)));
      }
      return;
    default:
      return;
  }
}

inline void WsConn::send_frame(int opcode, std::string_view payload) {
  static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
  std::string f;
  f.reserve(payload.size() + 14);
  f.push_back(char(0x80 | opcode));
  if (payload.size() < 126) {
    f.push_back(char(0x80 | payload.size()));
  } else if (payload.size() < 65536) {
    f.push_back(char(0x80 | 126));
    f.push_back(char(payload.size() >> 8));
    f.push_back(char(payload.size() & 0xff));
  } else {
    f.push_back(char(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(char((std::uint64_t(payload.size()) >> (8 * i)) & 0xff));
  }
  f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(char(payload[i] ^ key[i & 3]));
  send_raw(f);
}

inline void WsConn::send_raw(std::string_view data) {
  if (fd_ < 0) return;
  if (out_off_ < out_.size()) {
    out_.append(data);
    return;
  }
  out_.clear();
  out_off_ = 0;
  ssize_t w = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      if (state_ == State::ready)
        closed(1006);
      else
        fail(std::string("write: ") + std::strerror(errno));
      return;
    }
    w = 0;
  }
  if (std::size_t(w) < data.size()) {
    out_.assign(data.substr(std::size_t(w)));
    update_events();
  }
}

inline void WsConn::flush_out() {
  while (fd_ >= 0 && out_off_ < out_.size()) {
    ssize_t w = send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (state_ == State::ready)
        closed(1006);
      else
        fail(std::string("write: ") + std::strerror(errno));
      return;
    }
    out_off_ += std::size_t(w);
  }
  if (out_off_ >= out_.size()) {
    out_.clear();
    out_off_ = 0;
  }
  update_events();
}

inline void WsConn::fail(const std::string& why) {
  if (state_ == State::closed || state_ == State::failed) return;
  const bool was_ready = state_ == State::ready;
  error = why;
  if (fd_ >= 0) {
    client_.loop.del(fd_);
    close_rst(fd_);
    fd_ = -1;
  }
  state_ = State::failed;
  if (was_ready) {
    if (close_code < 0) close_code = 1006;
    client_.on_lost(*this);
  } else {
    client_.on_setup_failed(*this);
  }
}

inline void WsConn::closed(int code) {
  if (state_ == State::closed || state_ == State::failed) return;
  close_code = code;
  if (state_ != State::ready) {
    fail("closed during setup with code " + std::to_string(code));
    return;
  }
  state_ = State::closed;
  if (fd_ >= 0) {
    if (out_off_ < out_.size())  // best effort: our close reply
      (void)send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
    client_.loop.del(fd_);
    close(fd_);
    fd_ = -1;
  }
  client_.on_lost(*this);
}

inline void WsConn::shut_rst() {
  if (fd_ < 0) return;
  client_.loop.del(fd_);
  close_rst(fd_);
  fd_ = -1;
  if (state_ != State::failed) state_ = State::closed;
}

}  // namespace bench
