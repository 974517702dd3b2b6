// Prometheus metrics (SocketShark's four names kept) plus what an operator
// needs to find trouble. The `log` provider logs SocketShark's figures.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "socketshark/config/settings.hpp"

namespace socketshark::ops {

class Metrics {
 public:
  explicit Metrics(const config::MetricsSettings& settings);

  // SocketShark's figures.
  void set_ready(bool ready);
  void connection_opened();
  void connection_closed(std::string_view reason);
  void event_handled(std::string_view event, bool success);

  // Beyond SocketShark.
  void broker_message(std::string_view result);  // received | invalid
  void delivered(std::size_t frames, std::size_t bytes);
  void dropped(std::string_view reason);  // fields | order | throttle
  void callback(std::string_view callback, std::string_view outcome, double seconds);
  void broker_reconnect();
  void refused(std::string_view reason);
  void registry_size(std::size_t channels, std::size_t subscriptions);
  void cluster_resubscribed(std::size_t channels);

  // Prometheus text format; refreshes the process_* figures first.
  std::string serialize();
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

 private:
  bool log_provider_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* ready_;
  prometheus::Gauge* connections_;
  prometheus::Counter* connections_total_;
  prometheus::Family<prometheus::Gauge>* events_;
  prometheus::Family<prometheus::Counter>* broker_messages_;
  prometheus::Counter* delivered_frames_;
  prometheus::Counter* delivered_bytes_;
  prometheus::Family<prometheus::Counter>* dropped_;
  prometheus::Family<prometheus::Counter>* callbacks_;
  prometheus::Family<prometheus::Histogram>* callback_seconds_;
  prometheus::Counter* broker_reconnects_;
  prometheus::Family<prometheus::Counter>* closed_;
  prometheus::Family<prometheus::Counter>* refused_;
  prometheus::Gauge* channels_;
  prometheus::Counter* cluster_resubscriptions_;
  // The process_* metrics Python's Prometheus client exposes (SocketShark
  // dashboards use them), read from /proc at scrape time.
  prometheus::Gauge* process_resident_;
  prometheus::Gauge* process_virtual_;
  prometheus::Gauge* process_cpu_;
  prometheus::Gauge* process_open_fds_;
  prometheus::Gauge* process_max_fds_;
  prometheus::Gauge* process_start_;
  void refresh_process_metrics();
  prometheus::Gauge* subscriptions_;
  long active_ = 0;
  long total_ = 0;
};

}  // namespace socketshark::ops
