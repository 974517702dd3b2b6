#include "socketshark/broker/hiredis_asio.hpp"

#include <sys/ioctl.h>

#include <memory>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/posix/stream_descriptor.hpp>

namespace socketshark::broker {

namespace net = boost::asio;

namespace {

// Up to 16 x 16 KiB of Redis input handled per turn of the event loop.
constexpr int max_reads_per_turn = 16;

struct Watch {
  Watch(net::any_io_executor executor, int fd, redisAsyncContext* context)
      : descriptor(executor, fd), context(context) {}
  net::posix::stream_descriptor descriptor;
  redisAsyncContext* context;
  bool want_read = false, want_write = false;
  bool reading = false, writing = false;
  bool dead = false;  // set by hiredis' cleanup hook: the context is gone
};

// hiredis' ev.data: owns one reference to the watch until cleanup.
struct Holder {
  std::shared_ptr<Watch> watch;
};

void wait_read(const std::shared_ptr<Watch>& watch) {
  if (watch->reading || watch->dead) return;
  watch->reading = true;
  watch->descriptor.async_wait(net::posix::stream_descriptor::wait_read, [watch](boost::system::error_code ec) {
    watch->reading = false;
    if (ec || watch->dead || !watch->want_read) return;
    // hiredis reads 16 KiB per call. Drain what the socket already holds
    // (bounded) before yielding, so that the fan-out of this turn covers
    // many more messages and each client socket gets one bigger write.
    for (int reads = 0; reads < max_reads_per_turn; ++reads) {
      redisAsyncHandleRead(watch->context);  // may free the context (dead is then set)
      if (watch->dead || !watch->want_read) break;
      int available = 0;
      if (::ioctl(watch->descriptor.native_handle(), FIONREAD, &available) != 0 || available <= 0) break;
    }
    if (!watch->dead && watch->want_read) wait_read(watch);
  });
}

void wait_write(const std::shared_ptr<Watch>& watch) {
  if (watch->writing || watch->dead) return;
  watch->writing = true;
  watch->descriptor.async_wait(net::posix::stream_descriptor::wait_write, [watch](boost::system::error_code ec) {
    watch->writing = false;
    if (ec || watch->dead || !watch->want_write) return;
    redisAsyncHandleWrite(watch->context);
    if (!watch->dead && watch->want_write) wait_write(watch);
  });
}

std::shared_ptr<Watch>& watch_of(void* data) { return static_cast<Holder*>(data)->watch; }

void add_read(void* data) {
  auto& watch = watch_of(data);
  watch->want_read = true;
  wait_read(watch);
}
void del_read(void* data) { watch_of(data)->want_read = false; }
void add_write(void* data) {
  auto& watch = watch_of(data);
  watch->want_write = true;
  wait_write(watch);
}
void del_write(void* data) { watch_of(data)->want_write = false; }

void cleanup(void* data) {
  auto* holder = static_cast<Holder*>(data);
  auto& watch = holder->watch;
  watch->dead = true;
  watch->want_read = watch->want_write = false;
  boost::system::error_code ignored;
  watch->descriptor.cancel(ignored);
  watch->descriptor.release();  // hiredis closes the descriptor itself
  delete holder;
}

}  // namespace

void attach_to_asio(redisAsyncContext* context, net::any_io_executor executor) {
  auto* holder = new Holder{std::make_shared<Watch>(executor, context->c.fd, context)};
  context->ev.data = holder;
  context->ev.addRead = add_read;
  context->ev.delRead = del_read;
  context->ev.addWrite = add_write;
  context->ev.delWrite = del_write;
  context->ev.cleanup = cleanup;
}

}  // namespace socketshark::broker
