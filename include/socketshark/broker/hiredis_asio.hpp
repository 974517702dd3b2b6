// Drives a hiredis 0.14 async context from an Asio executor (no extra thread).
// hiredis owns the file descriptor: we wrap it in a stream_descriptor only to
// wait for readiness, and release it (never close it) on cleanup.
#pragma once

#include <boost/asio/any_io_executor.hpp>

struct redisAsyncContext;

namespace socketshark::broker {

// Attach before redisAsyncSetConnectCallback, or the connect callback never fires.
void attach_to_asio(redisAsyncContext* context, boost::asio::any_io_executor executor);

}  // namespace socketshark::broker
