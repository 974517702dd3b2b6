// The bench's HTTP callback service: one thread, epoll, keep-alive and
// pipelining, answering every request with
//   200 {"status":"ok","user_id":N}   (Content-Type: application/json)
// so that the daemon's ticket validation (and nginx's nchan_authorize_request
// subrequest) never waits on it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace bench {

class CallbackServer final : public Handler {
 public:
  explicit CallbackServer(int port) : listen_fd_(listen_on(port)) { loop_.add(listen_fd_, EPOLLIN, this); }
  ~CallbackServer() override {
    for (auto& c : conns_)
      if (c->fd >= 0) close(c->fd);
    close(listen_fd_);
  }

  int port() const { return bound_port(listen_fd_); }

  // Serves until `stop` is set or `max_seconds` pass.
  void run(const std::atomic<bool>& stop, double max_seconds) {
    const auto end = mono_ns() + from_s(max_seconds);
    while (!stop.load(std::memory_order_relaxed) && mono_ns() < end) {
      loop_.poll(100000000);
      reap();
    }
  }

  std::uint64_t requests = 0, connections = 0;

  void on_event(std::uint32_t) override {
    while (true) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      set_nodelay(fd);
      conns_.push_back(std::make_unique<Conn>(*this, fd));
      ++connections;
      loop_.add(fd, EPOLLIN, conns_.back().get());
    }
  }

 private:
  struct Conn final : Handler {
    Conn(CallbackServer& s, int fd) : server(s), fd(fd) {}
    CallbackServer& server;
    int fd;
    std::string in, out;
    bool close_after = false, want_out = false;

    void on_event(std::uint32_t ev) override {
      if (fd < 0) return;
      if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          drop();
          return;
        }
        if (n > 0) {
          in.append(buf, std::size_t(n));
          serve();
        }
      }
      write_out();
    }

    void serve() {
      std::size_t pos = 0;
      while (!close_after) {
        auto end = in.find("\r\n\r\n", pos);
        if (end == std::string::npos) break;
        std::string head = in.substr(pos, end - pos);
        for (auto& ch : head) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        std::size_t length = 0;
        if (auto cl = head.find("\r\ncontent-length:"); cl != std::string::npos)
          length = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
        if (in.size() < end + 4 + length) break;
        pos = end + 4 + length;
        close_after = head.find("\r\nconnection: close") != std::string::npos;
        char body[64];
        int b = std::snprintf(body, sizeof body, "{\"status\":\"ok\",\"user_id\":%llu}",
                              static_cast<unsigned long long>(++server.requests));
        char resp[256];
        int r = std::snprintf(resp, sizeof resp,
                              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                              "Connection: %s\r\n\r\n%s",
                              b, close_after ? "close" : "keep-alive", body);
        out.append(resp, std::size_t(r));
      }
      in.erase(0, pos);
    }

    void write_out() {
      while (fd >= 0 && !out.empty()) {
        ssize_t w = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (w < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          drop();
          return;
        }
        out.erase(0, std::size_t(w));
      }
      if (fd < 0) return;
      if (out.empty() && close_after) {
        drop();
        return;
      }
      const bool want = !out.empty();
      if (want != want_out) {
        want_out = want;
        server.loop_.mod(fd, EPOLLIN | (want ? EPOLLOUT : 0u), this);
      }
    }

    void drop() {
      server.loop_.del(fd);
      close(fd);
      fd = -1;
      server.dead_ = true;
    }
  };

  // Frees closed connections between two polls (never during a dispatch).
  void reap() {
    if (!dead_) return;
    dead_ = false;
    conns_.erase(std::remove_if(conns_.begin(), conns_.end(), [](const auto& c) { return c->fd < 0; }), conns_.end());
  }

  Loop loop_;
  int listen_fd_;
  std::vector<std::unique_ptr<Conn>> conns_;
  bool dead_ = false;
};

}  // namespace bench
