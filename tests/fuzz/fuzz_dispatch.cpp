// Fuzz target (e): a session's client frames through the event handler's
// dispatch (SPEC §1, §2), with a fake transport in place of the WebSocket
// session, interleaved with messages from the (in-memory) broker.
//
// The daemon's real EventHandler, Registry, MemoryBroker and HttpClient run
// on one io_context. Services have no callbacks, except the ticket
// validation URL and one authorizer, which point at a closed loopback port:
// those paths end in "Service unavailable." quickly, without a peer.
//
// Input: byte 0 holds flags (bit 0: the session starts authenticated, as
// after a handshake JWT; bit 1: the connection closes before the last frame);
// the rest is split on '\n' into at most 64 lines. A line starting with 0x01
// is published to the broker (the rest is "<channel> <payload>"); any other
// line is a client frame.
//
// Oracles: nothing crashes, leaks or hangs (ASan/UBSan, libFuzzer's timeout);
// every frame sent to the session is one complete unmasked text frame whose
// payload is a JSON object with a string "event"; nothing is sent after the
// connection closed; every client frame gets at most one reply of its own
// kind; after unsubscribe_all the session holds no subscription and the
// registry no channel.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "fuzz_common.hpp"
#include "socketshark/broker/memory_broker.hpp"
#include "socketshark/callbacks/http_client.hpp"
#include "socketshark/config/loader.hpp"
#include "socketshark/ops/metrics.hpp"
#include "socketshark/protocol/event_handler.hpp"
#include "socketshark/protocol/replies.hpp"
#include "socketshark/routing/client.hpp"
#include "socketshark/routing/registry.hpp"
#include "socketshark/util/logging.hpp"

using socketshark::Json;
namespace asio = boost::asio;
namespace config = socketshark::config;
namespace routing = socketshark::routing;
namespace protocol = socketshark::protocol;

namespace {

// Port 9 (discard) on loopback: nothing listens there in a sandbox, so a
// callback is refused at once.
constexpr const char* kSettings = R"(
broker: memory
log: {level: CRITICAL}
http: {timeout: 1, tries: 1, wait: 0}
authentication:
  ticket:
    validation_url: http://127.0.0.1:9/auth
    auth_fields: [user_id]
limits:
  max_subscriptions_per_session: 8
  max_message_bytes: 4096
services:
  open:
    require_authentication: false
    extra_fields: [color]
    filter_fields: [user_id]
  private:
    extra_fields: [user_id]
  guarded:
    require_authentication: false
    authorizer: http://127.0.0.1:9/authorizer
)";

class FakeSession : public routing::Client {
 public:
  void send_frame(routing::SharedFrame frame) override {
    FUZZ_CHECK(frame != nullptr);
    FUZZ_CHECK(open_);  // nothing reaches a closed session
    frames.push_back(*frame);
  }
  void close(unsigned short code, std::string_view) override {
    if (open_) close_code = code;
    open_ = false;
  }
  bool active() const override { return open_; }
  std::uint64_t id() const override { return 1; }

  std::vector<std::string> frames;
  unsigned short close_code = 0;

 private:
  bool open_ = true;
};

// Decodes one server frame: FIN + text, unmasked, exact length.
std::string_view payload_of(const std::string& frame) {
  FUZZ_CHECK(frame.size() >= 2);
  const auto b0 = static_cast<unsigned char>(frame[0]);
  const auto b1 = static_cast<unsigned char>(frame[1]);
  FUZZ_CHECK(b0 == 0x81);       // FIN, text
  FUZZ_CHECK((b1 & 0x80) == 0);  // servers never mask
  std::size_t length = b1 & 0x7F;
  std::size_t header = 2;
  if (length == 126) {
    FUZZ_CHECK(frame.size() >= 4);
    length = (static_cast<unsigned char>(frame[2]) << 8) | static_cast<unsigned char>(frame[3]);
    FUZZ_CHECK(length >= 126);  // minimal encoding
    header = 4;
  } else if (length == 127) {
    FUZZ_CHECK(frame.size() >= 10);
    length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | static_cast<unsigned char>(frame[i]);
    FUZZ_CHECK(length > 0xFFFF);
    header = 10;
  }
  FUZZ_CHECK(frame.size() == header + length);
  return std::string_view(frame).substr(header);
}

struct World {
  asio::io_context io;
  config::Settings settings = config::load_settings_from_string(kSettings, "fuzz_dispatch.yaml", {});
  socketshark::ops::Metrics metrics{settings.metrics};
  socketshark::broker::MemoryBroker broker{io.get_executor()};
  routing::Registry registry{io.get_executor(), broker, metrics};
  socketshark::callbacks::HttpClient http{io.get_executor(), settings.http, metrics};
  protocol::EventHandler events{protocol::Services{settings, registry, http, metrics, io.get_executor(), nullptr}};

  World() {
    socketshark::log::setup(settings.log);
    broker.start([this](std::string_view name, std::string_view payload,
                        std::size_t queue_size) { registry.on_broker_message(name, payload, queue_size); },
                 [](bool) {});
  }

  // Runs until nothing is left to do (no timers: no service has periodic tasks).
  void settle() {
    io.restart();
    io.run();
  }
};

World& world() {
  static World instance;
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto& w = world();
  const std::uint8_t flags = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start <= input.size() && lines.size() < 64;) {
    const auto end = input.find('\n', start);
    lines.push_back(input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }

  auto session = std::make_shared<FakeSession>();
  if (flags & 1) session->auth_info = Json{{"user_id", "fuzz"}};

  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto line = lines[i];
    if ((flags & 2) && i + 1 == lines.size()) session->close(1000, "client left");
    if (!line.empty() && line[0] == '\x01') {
      const auto rest = line.substr(1);
      const auto space = rest.find(' ');
      const std::string channel(rest.substr(0, space));
      const std::string payload(space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1));
      w.broker.publish(channel, payload);
      w.settle();
      continue;
    }
    if (!session->active()) continue;  // the session stops reading once closed
    const std::size_t before = session->frames.size();
    asio::co_spawn(w.io, w.events.handle(session, line), [](std::exception_ptr failure) {
      FUZZ_CHECK(!failure);  // handle() turns every error into a reply
    });
    w.settle();

    // A frame is answered by at most one reply of its own event name; the
    // other frames it caused are messages or unsubscribe notices.
    const auto parsed = socketshark::parse_untrusted_json(line);
    const std::string frame_event =
        parsed.is_object() && parsed.contains("event") && parsed["event"].is_string() ? parsed["event"].get<std::string>()
                                                                                      : std::string();
    std::size_t replies = 0;
    for (std::size_t k = before; k < session->frames.size(); ++k) {
      const auto payload = payload_of(session->frames[k]);
      FUZZ_CHECK(fuzz::valid_utf8(payload));
      const auto sent = Json::parse(payload, nullptr, false);
      FUZZ_CHECK(sent.is_object());
      if (!sent.contains("event")) {  // only the invalid-frame error has no event
        FUZZ_CHECK(payload == protocol::invalid_event_reply());
        ++replies;
        continue;
      }
      FUZZ_CHECK(sent["event"].is_string());
      const auto event = sent["event"].get<std::string>();
      if (event == "message" && frame_event == "message") continue;  // a reply or a delivery
      if (event == frame_event) {
        ++replies;
      } else if (event == "pong") {
        FUZZ_CHECK(frame_event == "ping");
        ++replies;
      } else {
        // Caused by the frame but not a reply: a delivery of a message the
        // subscription buffered, or the notice of a subscription taken away.
        FUZZ_CHECK(event == "message" || event == "unsubscribe");
        FUZZ_CHECK(sent.contains("subscription"));
      }
    }
    FUZZ_CHECK(replies <= 1 || frame_event == "message");
  }

  // The connection ends: everything the session held is released.
  asio::co_spawn(w.io, w.events.unsubscribe_all(session), [](std::exception_ptr failure) { FUZZ_CHECK(!failure); });
  session->close(1000, "done");
  w.settle();
  FUZZ_CHECK(session->subscription_count() == 0);
  FUZZ_CHECK(w.registry.subscription_count() == 0);
  FUZZ_CHECK(w.registry.channel_count() == 0);
  FUZZ_CHECK(w.broker.channel_count() == 0);
  return 0;
}
