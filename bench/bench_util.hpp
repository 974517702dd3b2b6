// Small helpers shared by the parts of socketshark_bench: clock, command
// line, /proc readings, sockets and the epoll loop.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// ---------------------------------------------------------------- clock
inline std::int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}
inline double to_s(std::int64_t ns) { return double(ns) / 1e9; }
inline std::int64_t from_s(double s) { return std::int64_t(s * 1e9); }

// CPU seconds the calling thread has used (user + system).
inline double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------- arguments
struct Args {
  std::string command;
  std::map<std::string, std::string> values;

  Args(int argc, char** argv) {
    if (argc > 1) command = argv[1];
    for (int i = 2; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0) {
        std::fprintf(stderr, "unexpected argument: %s\n", argv[i]);
        std::exit(2);
      }
      key = key.substr(2);
      if (i + 1 < argc && std::string_view(argv[i + 1]).rfind("--", 0) != 0)
        values[key] = argv[++i];
      else
        values[key] = "1";
    }
  }
  bool has(const std::string& k) const { return values.count(k) != 0; }
  std::string str(const std::string& k, const std::string& def = "") const {
    auto it = values.find(k);
    return it == values.end() ? def : it->second;
  }
  long num(const std::string& k, long def) const {
    auto it = values.find(k);
    return it == values.end() ? def : std::strtol(it->second.c_str(), nullptr, 10);
  }
  double real(const std::string& k, double def) const {
    auto it = values.find(k);
    return it == values.end() ? def : std::strtod(it->second.c_str(), nullptr);
  }
};

// ---------------------------------------------------------------- /proc
inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// utime + stime of one process, in seconds (0 when it is gone).
inline double proc_cpu_seconds(int pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  // After "pid (comm) " the fields start at 3 (state); utime is 14, stime 15.
  for (int i = 3; i <= 15 && (rest >> field); ++i) {
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  return (utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// The process and its descendants (nginx: master + worker).
inline std::vector<int> proc_tree(int pid) {
  std::vector<int> out;
  if (pid <= 0) return out;
  std::vector<int> todo{pid};
  while (!todo.empty() && out.size() < 64) {
    int p = todo.back();
    todo.pop_back();
    out.push_back(p);
    std::istringstream children(read_file("/proc/" + std::to_string(p) + "/task/" + std::to_string(p) + "/children"));
    int c;
    while (children >> c) todo.push_back(c);
  }
  return out;
}

inline double tree_cpu_seconds(int pid) {
  double total = 0;
  for (int p : proc_tree(pid)) total += proc_cpu_seconds(p);
  return total;
}

// A "Key:   123 kB" line of a /proc file, in KiB (-1 when absent).
inline long proc_kib(const std::string& path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + key.size(), nullptr, 10);
  return -1;
}
inline long pss_kib(int pid) { return proc_kib("/proc/" + std::to_string(pid) + "/smaps_rollup", "Pss:"); }
inline long rss_kib(int pid) { return proc_kib("/proc/" + std::to_string(pid) + "/status", "VmRSS:"); }
inline long hwm_kib(int pid) { return proc_kib("/proc/" + std::to_string(pid) + "/status", "VmHWM:"); }
inline long tree_pss_kib(int pid) {
  long total = 0;
  for (int p : proc_tree(pid)) total += std::max(0L, pss_kib(p));
  return total;
}
inline long tree_rss_kib(int pid) {
  long total = 0;
  for (int p : proc_tree(pid)) total += std::max(0L, rss_kib(p));
  return total;
}
inline long tree_hwm_kib(int pid) {
  long total = 0;
  for (int p : proc_tree(pid)) total += std::max(0L, hwm_kib(p));
  return total;
}

// Per-CPU tick counters from /proc/stat: user nice system idle iowait irq
// softirq steal.
struct CpuTicks {
  std::vector<std::vector<unsigned long long>> cpus;
  static CpuTicks now() {
    CpuTicks t;
    std::istringstream in(read_file("/proc/stat"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("cpu", 0) != 0 || line.size() < 4 || line[3] < '0' || line[3] > '9') continue;
      std::istringstream fields(line.substr(line.find(' ')));
      std::vector<unsigned long long> v;
      unsigned long long x;
      while (fields >> x && v.size() < 8) v.push_back(x);
      v.resize(8, 0);
      t.cpus.push_back(v);
    }
    return t;
  }
};

// ---------------------------------------------------------------- sockets
inline sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(std::uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

inline void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

inline void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Closes with RST: no TIME_WAIT left behind by tens of thousands of
// benchmark connections.
inline void close_rst(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

// Blocking connect with a timeout (seconds); -1 on failure.
inline int connect_blocking(int port, double timeout_s = 2.0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{long(timeout_s), long((timeout_s - long(timeout_s)) * 1e6)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  auto a = loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  set_nodelay(fd);
  return fd;
}

inline int listen_on(int port, int backlog = 4096) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = loopback(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, backlog) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  return fd;
}

inline int bound_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// One blocking HTTP/1.1 GET (Connection: close); returns status, fills body.
inline int http_get(int port, const std::string& path, std::string& body, double timeout_s = 1.0) {
  int fd = connect_blocking(port, timeout_s);
  if (fd < 0) return -1;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != ssize_t(req.size())) {
    close(fd);
    return -1;
  }
  std::string all;
  char buf[65536];
  const auto deadline = mono_ns() + from_s(timeout_s);
  while (all.size() < (16u << 20) && mono_ns() < deadline) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, std::size_t(n));
  }
  close(fd);
  auto end = all.find("\r\n\r\n");
  if (all.size() < 12 || end == std::string::npos) return -1;
  body = all.substr(end + 4);
  return std::atoi(all.c_str() + 9);
}

// ---------------------------------------------------------------- epoll
struct Handler {
  virtual void on_event(std::uint32_t events) = 0;
  virtual ~Handler() = default;
};

// Handlers are never freed while the loop may still hold events for them:
// the owners keep them until the scenario ends.
struct Loop {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<epoll_event> events = std::vector<epoll_event>(4096);

  Loop() = default;
  Loop(const Loop&) = delete;
  ~Loop() { close(ep); }

  void add(int fd, std::uint32_t ev, Handler* h) {
    epoll_event e{};
    e.events = ev;
    e.data.ptr = h;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  }
  void mod(int fd, std::uint32_t ev, Handler* h) {
    epoll_event e{};
    e.events = ev;
    e.data.ptr = h;
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
  }
  void del(int fd) { epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr); }

  // Waits at most timeout_ns (clamped to [0, 100 ms]) and dispatches.
  int poll(std::int64_t timeout_ns) {
    timeout_ns = std::clamp<std::int64_t>(timeout_ns, 0, 100000000);
    timespec ts{time_t(timeout_ns / 1000000000), long(timeout_ns % 1000000000)};
    int n = epoll_pwait2(ep, events.data(), int(events.size()), &ts, nullptr);
    for (int i = 0; i < n; ++i) static_cast<Handler*>(events[i].data.ptr)->on_event(events[i].events);
    return n;
  }
};

// ---------------------------------------------------------------- JSON scanning
// Finds `"key"` followed by optional blanks and a colon; returns the offset
// of the value (after blanks) or npos. Good enough for the flat frames the
// daemon and nchan send; no full JSON parse on the hot path.
inline std::size_t json_value_at(std::string_view s, std::string_view key, std::size_t from = 0) {
  std::string quoted = "\"" + std::string(key) + "\"";
  for (std::size_t pos = s.find(quoted, from); pos != std::string_view::npos; pos = s.find(quoted, pos + 1)) {
    std::size_t i = pos + quoted.size();
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i >= s.size() || s[i] != ':') continue;
    ++i;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return i;
  }
  return std::string_view::npos;
}

inline bool json_string_is(std::string_view s, std::string_view key, std::string_view value) {
  auto at = json_value_at(s, key);
  if (at == std::string_view::npos) return false;
  std::string quoted = "\"" + std::string(value) + "\"";
  return s.substr(at, quoted.size()) == quoted;
}

inline bool json_int(std::string_view s, std::string_view key, std::int64_t& out) {
  auto at = json_value_at(s, key);
  if (at == std::string_view::npos || at >= s.size()) return false;
  const char* p = s.data() + at;
  const char* end = s.data() + s.size();
  bool neg = false;
  if (p < end && *p == '-') {
    neg = true;
    ++p;
  }
  if (p >= end || *p < '0' || *p > '9') return false;
  std::int64_t v = 0;
  while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  out = neg ? -v : v;
  return true;
}

// ---------------------------------------------------------------- stats
inline double percentile_ms(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return -1;
  std::size_t i = std::min(sorted.size() - 1, std::size_t(q * double(sorted.size())));
  return double(sorted[i]) / 1e6;
}

}  // namespace bench
