#include "socketshark/server/frame_socket.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace socketshark::server {

namespace {
// A single writev takes at most this many frames / bytes; the rest follows in
// the next write (IOV_MAX is 1024; big batches only add latency).
constexpr std::size_t max_frames_per_write = 256;
constexpr std::size_t max_bytes_per_write = 512 * 1024;

void complete(FrameSocket::write_handler& done, error_code ec, std::size_t bytes) {
  auto ex = net::get_associated_executor(done);
  net::dispatch(ex, [h = std::move(done), ec, bytes]() mutable { std::move(h)(ec, bytes); });
}
}  // namespace

FrameSocket::FrameSocket(tcp::socket socket) : core_(std::make_shared<Core>()) {
  core_->plain.emplace(std::move(socket));
  // flush() writes directly first: it must never block.
  error_code ignored;
  core_->plain->non_blocking(true, ignored);
}

FrameSocket::FrameSocket(tls_stream stream) : core_(std::make_shared<Core>()) {
  core_->tls = std::make_unique<tls_stream>(std::move(stream));
}

FrameSocket::executor_type FrameSocket::get_executor() const { return core_->lowest().get_executor(); }
tcp::socket& FrameSocket::socket() { return core_->lowest(); }
bool FrameSocket::is_tls() const { return core_->tls != nullptr; }
std::size_t FrameSocket::queued_bytes() const { return core_->queued_bytes; }
void FrameSocket::set_send_limit(std::size_t bytes) { core_->send_limit = bytes; }

bool FrameSocket::send(SharedFrame frame) {
  if (core_->failed) return true;  // the reader sees the error and closes
  core_->enqueue(std::move(frame), nullptr);
  return core_->send_limit == 0 || core_->queued_bytes <= core_->send_limit;
}

void FrameSocket::discard_queued_data() {
  auto& q = core_->queue;
  for (std::size_t i = q.size(); i > core_->in_flight; --i) {
    auto& entry = q[i - 1];
    if (entry.done) continue;  // Beast's frames still go out
    core_->queued_bytes -= entry.bytes->size();
    q.erase_at(i - 1);
  }
}

void FrameSocket::close() {
  error_code ignored;
  core_->lowest().close(ignored);
}

tcp::socket& FrameSocket::Core::lowest() { return tls ? tls->next_layer() : *plain; }

void FrameSocket::Core::enqueue(std::shared_ptr<const std::string> bytes, std::unique_ptr<write_handler> done) {
  if (failed) {
    if (done) {
      net::post(lowest().get_executor(), [h = std::move(done)]() mutable {
        std::move(*h)(net::error::broken_pipe, 0);
      });
    }
    return;
  }
  queued_bytes += bytes->size();
  queue.push_back(Entry{std::move(bytes), std::move(done)});
  schedule_flush();
}

// Flushing is deferred to the end of the current turn of the event loop so
// that every frame queued by one batch of broker messages leaves in one write.
void FrameSocket::Core::schedule_flush() {
  if (writing || flush_posted) return;
  flush_posted = true;
  net::post(lowest().get_executor(), [self = shared_from_this()] {
    self->flush_posted = false;
    self->flush();
  });
}

void FrameSocket::Core::flush() {
  while (!writing && !failed && !queue.empty()) {
    gather.clear();
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < queue.size(); ++i) {
      if (gather.size() == max_frames_per_write || bytes >= max_bytes_per_write) break;
      const auto& entry = queue[i];
      gather.emplace_back(entry.bytes->data(), entry.bytes->size());
      bytes += entry.bytes->size();
    }
    in_flight = gather.size();
    if (!tls) {
      // Usually the whole batch fits in the socket's send buffer: write it now
      // (the socket is non-blocking) and spare Asio's operation for the rest.
      error_code ec;
      std::size_t written = plain->write_some(gather, ec);
      if (ec == net::error::would_block || ec == net::error::try_again) {
        ec = {};
        written = 0;
      }
      if (ec) {
        fail_all(ec);
        return;
      }
      if (written == bytes) {
        release_written();
        continue;
      }
      skip_written(written);
    }
    writing = true;
    auto on_done = [self = shared_from_this()](error_code ec, std::size_t) { self->on_written(ec); };
    if (tls)
      net::async_write(*tls, gather, std::move(on_done));
    else
      net::async_write(*plain, gather, std::move(on_done));
    return;
  }
  if (queue.empty() && !writing) {
    // Give a burst's memory back instead of keeping the peak per session.
    if (gather.capacity() > Fifo<Entry>::kKeptCapacity) std::vector<net::const_buffer>().swap(gather);
    queue.clear();
  }
}

// Drops the first `written` bytes of the gather list (a partial direct write).
void FrameSocket::Core::skip_written(std::size_t written) {
  std::size_t first = 0;
  while (written > 0 && written >= gather[first].size()) {
    written -= gather[first].size();
    ++first;
  }
  if (written > 0) gather[first] += written;
  gather.erase(gather.begin(), gather.begin() + static_cast<std::ptrdiff_t>(first));
}

// The in-flight entries are on the wire: drop them, and complete Beast's.
void FrameSocket::Core::release_written() {
  for (; in_flight > 0; --in_flight) {
    Entry entry = queue.pop_front();
    queued_bytes -= entry.bytes->size();
    if (entry.done) complete(*entry.done, {}, entry.bytes->size());
  }
}

void FrameSocket::Core::on_written(error_code ec) {
  writing = false;
  if (ec) {
    fail_all(ec);
    return;
  }
  release_written();
  flush();
}

void FrameSocket::Core::fail_all(error_code ec) {
  failed = true;
  in_flight = 0;
  Fifo<Entry> pending;
  std::swap(pending, queue);
  queued_bytes = 0;
  while (!pending.empty()) {
    Entry entry = pending.pop_front();
    if (entry.done) complete(*entry.done, ec, 0);
  }
}

void teardown(boost::beast::role_type, FrameSocket& socket, error_code& ec) {
  socket.socket().shutdown(tcp::socket::shutdown_send, ec);
  socket.socket().close(ec);
}

void async_teardown_impl(FrameSocket& socket, FrameSocket::write_handler done) {
  // The close frame has been written (Beast waits for it); shut down TLS
  // politely when it is TLS, then close the TCP socket.
  auto core = socket.core_;
  if (core->tls && !core->failed) {
    core->tls->async_shutdown([core, h = std::move(done)](error_code) mutable {
      error_code ignored;
      core->lowest().close(ignored);
      std::move(h)(error_code{}, 0);
    });
    return;
  }
  error_code ignored;
  core->lowest().shutdown(tcp::socket::shutdown_send, ignored);
  core->lowest().close(ignored);
  net::post(core->lowest().get_executor(), [h = std::move(done)]() mutable { std::move(h)(error_code{}, 0); });
}

void beast_close_socket(FrameSocket& socket) { socket.close(); }

}  // namespace socketshark::server
