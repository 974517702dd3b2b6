#include "socketshark/ops/metrics.hpp"

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
  set_ready(false);
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

std::string Metrics::serialize() const { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

}  // namespace socketshark::ops
