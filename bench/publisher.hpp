// Publishers for the load generator: PUBLISH through a raw RESP pipeline
// (socketshark's Redis), or pipelined HTTP POST /pub/<channel> (nchan). Both
// are driven by the client's epoll loop; the scenario keeps the window.
#pragma once

#include <memory>
#include <string>

#include "bench_util.hpp"

namespace bench {

class Publisher : public Handler {
 public:
  explicit Publisher(Loop& loop) : loop_(loop) {}
  ~Publisher() override {
    if (fd_ >= 0) close(fd_);
  }

  bool connect_to(int port) {
    fd_ = connect_blocking(port);
    if (fd_ < 0) return false;
    set_nonblocking(fd_);
    int big = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    loop_.add(fd_, EPOLLIN, this);
    return true;
  }

  virtual void publish(std::string_view channel, std::string_view body) = 0;

  // Writes what the socket takes now; the rest on EPOLLOUT.
  void flush() {
    while (fd_ >= 0 && off_ < out_.size()) {
      ssize_t w = send(fd_, out_.data() + off_, out_.size() - off_, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        broken("write: " + std::string(std::strerror(errno)));
        return;
      }
      off_ += std::size_t(w);
    }
    if (off_ == out_.size()) {
      out_.clear();
      off_ = 0;
    } else if (off_ > (1u << 20)) {
      out_.erase(0, off_);
      off_ = 0;
    }
    const std::uint32_t want = EPOLLIN | (off_ < out_.size() ? EPOLLOUT : 0u);
    if (fd_ >= 0 && want != armed_) {
      armed_ = want;
      loop_.mod(fd_, want, this);
    }
  }

  void on_event(std::uint32_t ev) override {
    if (fd_ < 0) return;
    if (ev & EPOLLOUT) flush();
    if (fd_ < 0 || !(ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      broken(n == 0 ? "peer closed the publisher connection" : std::string("read: ") + std::strerror(errno));
      return;
    }
    if (n < 0) return;
    in_.append(buf, std::size_t(n));
    std::size_t used = parse_replies(in_);
    in_.erase(0, used);
  }

  std::size_t backlog() const { return out_.size() - off_; }
  bool ok() const { return fd_ >= 0; }

  std::uint64_t sent = 0, acked = 0, errors = 0;
  std::string first_error;

 protected:
  virtual std::size_t parse_replies(const std::string& in) = 0;
  void note_error(std::string what) {
    ++errors;
    if (first_error.empty()) first_error = std::move(what);
  }
  void broken(std::string why) {
    note_error(std::move(why));
    if (fd_ >= 0) {
      loop_.del(fd_);
      close(fd_);
      fd_ = -1;
    }
  }

  Loop& loop_;
  int fd_ = -1;
  std::uint32_t armed_ = EPOLLIN;
  std::string out_, in_;
  std::size_t off_ = 0;
};

class RedisPublisher final : public Publisher {
 public:
  using Publisher::Publisher;
  void publish(std::string_view channel, std::string_view body) override {
    char head[64];
    int n = std::snprintf(head, sizeof head, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n", channel.size());
    out_.append(head, std::size_t(n));
    out_.append(channel);
    n = std::snprintf(head, sizeof head, "\r\n$%zu\r\n", body.size());
    out_.append(head, std::size_t(n));
    out_.append(body);
    out_.append("\r\n");
    ++sent;
  }
  std::uint64_t receivers = 0;  // sum of PUBLISH's integer replies

 private:
  std::size_t parse_replies(const std::string& in) override {
    std::size_t pos = 0;
    while (true) {
      auto eol = in.find("\r\n", pos);
      if (eol == std::string::npos) break;
      if (in[pos] == ':') {
        receivers += std::strtoull(in.c_str() + pos + 1, nullptr, 10);
      } else {
        note_error("redis: " + in.substr(pos, eol - pos));
      }
      ++acked;
      pos = eol + 2;
    }
    return pos;
  }
};

class HttpPublisher final : public Publisher {
 public:
  HttpPublisher(Loop& loop, std::string path_prefix) : Publisher(loop), prefix_(std::move(path_prefix)) {}
  void publish(std::string_view channel, std::string_view body) override {
    char head[256];
    int n = std::snprintf(head, sizeof head,
                          "POST %s%.*s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          prefix_.c_str(), int(channel.size()), channel.data(), body.size());
    out_.append(head, std::size_t(n));
    out_.append(body);
    ++sent;
  }

 private:
  std::size_t parse_replies(const std::string& in) override {
    std::size_t pos = 0;
    while (pos < in.size()) {
      auto end = in.find("\r\n\r\n", pos);
      if (end == std::string::npos) break;
      std::string head = in.substr(pos, end - pos);
      std::string lower = head;
      for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      const int status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
      std::size_t body_at = end + 4, total;
      if (auto cl = lower.find("\r\ncontent-length:"); cl != std::string::npos) {
        total = body_at + std::strtoull(lower.c_str() + cl + 17, nullptr, 10);
        if (in.size() < total) break;
      } else if (lower.find("transfer-encoding: chunked") != std::string::npos) {
        std::size_t p = body_at;
        bool complete = false;
        while (true) {
          auto eol = in.find("\r\n", p);
          if (eol == std::string::npos) break;
          std::size_t size = std::strtoull(in.c_str() + p, nullptr, 16);
          if (size == 0) {
            if (in.size() < eol + 4) break;
            p = eol + 4;
            complete = true;
            break;
          }
          if (in.size() < eol + 2 + size + 2) break;
          p = eol + 2 + size + 2;
        }
        if (!complete) break;
        total = p;
      } else {
        total = body_at;  // no body
      }
      if (status < 200 || status >= 300) note_error("http: " + head.substr(0, head.find("\r\n")));
      ++acked;
      pos = total;
    }
    return pos;
  }
  std::string prefix_;
};

}  // namespace bench
