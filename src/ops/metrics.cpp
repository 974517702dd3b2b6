#include "socketshark/ops/metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include <prometheus/text_serializer.h>

#include "socketshark/util/logging.hpp"

namespace socketshark::ops {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

Metrics::Metrics(const config::MetricsSettings& settings)
    : log_provider_(settings.log), registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  ready_ = &BuildGauge().Name("socketshark_service_state").Help("Service status").Register(r).Add({});
  connections_ = &BuildGauge().Name("socketshark_connection_count").Help("Active connections").Register(r).Add({});
  connections_total_ =
      &BuildCounter().Name("socketshark_connection_total").Help("Connection total").Register(r).Add({});
  // A gauge, as in SocketShark, so existing dashboards keep working.
  events_ = &BuildGauge().Name("socketshark_event_success_counter").Help("Event success counter").Register(r);
  broker_messages_ = &BuildCounter()
                          .Name("socketshark_broker_messages_total")
                          .Help("Messages read from the broker, by result (received, invalid)")
                          .Register(r);
  delivered_frames_ = &BuildCounter()
                           .Name("socketshark_messages_delivered_total")
                           .Help("Message frames queued to clients")
                           .Register(r)
                           .Add({});
  delivered_bytes_ = &BuildCounter()
                          .Name("socketshark_client_bytes_queued_total")
                          .Help("Bytes of message frames queued to clients")
                          .Register(r)
                          .Add({});
  dropped_ = &BuildCounter()
                  .Name("socketshark_messages_filtered_total")
                  .Help("Messages not delivered to a subscription, by filter (fields, order, throttle)")
                  .Register(r);
  callbacks_ = &BuildCounter()
                    .Name("socketshark_callback_requests_total")
                    .Help("Service callbacks, by callback and outcome (ok, error, unavailable, unexpected)")
                    .Register(r);
  callback_seconds_ = &BuildHistogram()
                           .Name("socketshark_callback_duration_seconds")
                           .Help("Service callback latency including retries")
                           .Register(r);
  broker_reconnects_ = &BuildCounter()
                            .Name("socketshark_broker_reconnects_total")
                            .Help("Broker (Redis) reconnections")
                            .Register(r)
                            .Add({});
  closed_ = &BuildCounter()
                 .Name("socketshark_sessions_closed_total")
                 .Help("Sessions closed, by reason")
                 .Register(r);
  refused_ = &BuildCounter()
                  .Name("socketshark_refusals_total")
                  .Help("Connections, events and frames refused by a limit, by reason")
                  .Register(r);
  channels_ = &BuildGauge()
                   .Name("socketshark_channels")
                   .Help("Broker channels subscribed (one per subscription name in use)")
                   .Register(r)
                   .Add({});
  subscriptions_ = &BuildGauge()
                        .Name("socketshark_subscriptions")
                        .Help("Subscriptions of all sessions, provisional ones included")
                        .Register(r)
                        .Add({});
  cluster_resubscriptions_ = &BuildCounter()
                                  .Name("socketshark_cluster_resubscriptions_total")
                                  .Help("Channels resubscribed after a Redis Cluster topology change")
                                  .Register(r)
                                  .Add({});
  auto gauge = [&r](const char* name, const char* help) { return &BuildGauge().Name(name).Help(help).Register(r).Add({}); };
  process_resident_ = gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  process_virtual_ = gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
  // A gauge set from /proc: prometheus-cpp counters only go up by increments.
  process_cpu_ = gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
  process_open_fds_ = gauge("process_open_fds", "Number of open file descriptors.");
  process_max_fds_ = gauge("process_max_fds", "Maximum number of open file descriptors.");
  process_start_ = gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
  set_ready(false);
}

void Metrics::refresh_process_metrics() {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after ')'.
  auto close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(text.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), std::istream_iterator<std::string>()};
    // f[0] is field 3 (state): utime=14, stime=15, starttime=22, vsize=23, rss=24.
    if (f.size() > 21) {
      process_cpu_->Set((std::stod(f[11]) + std::stod(f[12])) / ticks);
      std::ifstream uptime_file("/proc/uptime");
      double uptime = 0;
      uptime_file >> uptime;
      const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      process_start_->Set(now - uptime + std::stod(f[19]) / ticks);
      process_virtual_->Set(std::stod(f[20]));
      process_resident_->Set(std::stod(f[21]) * page);
    }
  }
  std::size_t fds = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++fds;
  process_open_fds_->Set(static_cast<double>(fds));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) process_max_fds_->Set(static_cast<double>(limit.rlim_cur));
}

void Metrics::cluster_resubscribed(std::size_t channels) {
  cluster_resubscriptions_->Increment(static_cast<double>(channels));
}

void Metrics::registry_size(std::size_t channels, std::size_t subscriptions) {
  channels_->Set(static_cast<double>(channels));
  subscriptions_->Set(static_cast<double>(subscriptions));
}

void Metrics::set_ready(bool ready) {
  ready_->Set(ready ? 1 : 0);
  if (log_provider_) log::debug("metrics", {{"ready", ready}});
}

void Metrics::connection_opened() {
  connections_total_->Increment();
  connections_->Increment();
  ++active_;
  ++total_;
  if (log_provider_) log::debug("metrics", {{"active_connections", active_}, {"total_connections", total_}});
}

void Metrics::connection_closed(std::string_view reason) {
  connections_->Decrement();
  --active_;
  closed_->Add({{"reason", std::string(reason)}}).Increment();
  if (log_provider_) log::debug("metrics", {{"active_connections", active_}, {"total_connections", total_}});
}

void Metrics::event_handled(std::string_view event, bool success) {
  events_->Add({{"event", std::string(event)}, {"status", success ? "success" : "error"}}).Increment();
  if (log_provider_) log::debug("metrics", {{"evt", event}, {"success", success}});
}

void Metrics::broker_message(std::string_view result) {
  broker_messages_->Add({{"result", std::string(result)}}).Increment();
}

void Metrics::delivered(std::size_t frames, std::size_t bytes) {
  delivered_frames_->Increment(static_cast<double>(frames));
  delivered_bytes_->Increment(static_cast<double>(bytes));
}

void Metrics::dropped(std::string_view reason) { dropped_->Add({{"reason", std::string(reason)}}).Increment(); }

void Metrics::callback(std::string_view callback, std::string_view outcome, double seconds) {
  callbacks_->Add({{"callback", std::string(callback)}, {"outcome", std::string(outcome)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5,   1,    2.5,   5,    10,  30};
  callback_seconds_->Add({{"callback", std::string(callback)}}, buckets).Observe(seconds);
}

void Metrics::broker_reconnect() { broker_reconnects_->Increment(); }

void Metrics::refused(std::string_view reason) { refused_->Add({{"reason", std::string(reason)}}).Increment(); }

std::string Metrics::serialize() {
  refresh_process_metrics();
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace socketshark::ops
