// Event parsing and reply building: SocketShark's Event.from_data and send_ok/send_error.
#include <gtest/gtest.h>

#include "socketshark/protocol/client_event.hpp"
#include "socketshark/protocol/errors.hpp"
#include "socketshark/protocol/replies.hpp"

using namespace socketshark;
using namespace socketshark::protocol;

TEST(ClientEvent, NotJsonIsClassifiedAsNotJson) {
  EXPECT_EQ(parse_client_event("{").kind, EventKind::not_json);
  EXPECT_EQ(parse_client_event("").kind, EventKind::not_json);
  EXPECT_EQ(parse_client_event("hello").kind, EventKind::not_json);
}

TEST(ClientEvent, JsonWithoutValidEventIsInvalid) {
  EXPECT_EQ(parse_client_event("[1,2]").kind, EventKind::invalid);
  EXPECT_EQ(parse_client_event("\"auth\"").kind, EventKind::invalid);
  EXPECT_EQ(parse_client_event("{}").kind, EventKind::invalid);
  EXPECT_EQ(parse_client_event(R"({"event":1})").kind, EventKind::invalid);
  EXPECT_EQ(parse_client_event(R"({"event":null})").kind, EventKind::invalid);
}

TEST(ClientEvent, EventLongerThanFortyCharactersIsInvalid) {
  EXPECT_EQ(parse_client_event(R"({"event":")" + std::string(41, 'x') + "\"}").kind, EventKind::invalid);
  auto forty = parse_client_event(R"({"event":")" + std::string(40, 'x') + "\"}");
  EXPECT_EQ(forty.kind, EventKind::unknown);
  EXPECT_EQ(forty.name, std::string(40, 'x'));
}

TEST(ClientEvent, EventLengthCountsCharactersNotBytes) {
  std::string forty_accents;
  for (int i = 0; i < 40; ++i) forty_accents += "\xC3\xA9";  // é
  EXPECT_EQ(parse_client_event(R"({"event":")" + forty_accents + "\"}").kind, EventKind::unknown);
  EXPECT_EQ(parse_client_event(R"({"event":")" + forty_accents + "e\"}").kind, EventKind::invalid);
}

TEST(ClientEvent, KnownEventsAreRecognized) {
  EXPECT_EQ(parse_client_event(R"({"event":"auth"})").kind, EventKind::auth);
  EXPECT_EQ(parse_client_event(R"({"event":"subscribe"})").kind, EventKind::subscribe);
  EXPECT_EQ(parse_client_event(R"({"event":"message"})").kind, EventKind::message);
  EXPECT_EQ(parse_client_event(R"({"event":"unsubscribe"})").kind, EventKind::unsubscribe);
  EXPECT_EQ(parse_client_event(R"({"event":"ping"})").kind, EventKind::ping);
  EXPECT_EQ(parse_client_event(R"({"event":"Ping"})").kind, EventKind::unknown);
}

TEST(ClientEvent, DeeplyNestedJsonIsRefusedAsNotJson) {
  std::string deep = R"({"event":"ping","data":)" + std::string(10000, '[') + std::string(10000, ']') + "}";
  EXPECT_EQ(parse_client_event(deep).kind, EventKind::not_json);
  std::string shallow = R"({"event":"ping","data":)" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_EQ(parse_client_event(shallow).kind, EventKind::ping);
}

TEST(UntrustedJson, DepthIsBoundedWhateverTheSource) {
  EXPECT_TRUE(parse_untrusted_json(std::string(300, '[') + std::string(300, ']')).is_discarded());
  EXPECT_TRUE(parse_untrusted_json(std::string(200000, '{')).is_discarded());
  EXPECT_EQ(parse_untrusted_json(std::string(256, '[') + std::string(256, ']')).is_discarded(), false);
  EXPECT_TRUE(parse_untrusted_json("{").is_discarded());
  EXPECT_EQ(parse_untrusted_json(R"({"a":[1,{"b":null}]})"), Json::parse(R"({"a":[1,{"b":null}]})"));
}

TEST(ClientEvent, SubscriptionIsReadOnlyWhenANonEmptyString) {
  EXPECT_EQ(parse_client_event(R"({"event":"subscribe","subscription":"a.b"})").subscription(), "a.b");
  EXPECT_EQ(parse_client_event(R"({"event":"subscribe","subscription":3})").subscription(), "");
  EXPECT_EQ(parse_client_event(R"({"event":"subscribe"})").subscription(), "");
}

TEST(Utf8, PrefixCutsAtCharacterBoundaries) {
  EXPECT_EQ(utf8_prefix("abc", 2), "ab");
  EXPECT_EQ(utf8_prefix("\xC3\xA9\xC3\xA9\xC3\xA9", 2), "\xC3\xA9\xC3\xA9");
  EXPECT_EQ(utf8_prefix("ab", 5), "ab");
  EXPECT_EQ(utf8_length("\xF0\x9F\xA6\x88x"), 2u);  // shark emoji + x
}

TEST(Replies, InvalidEventReplyHasNoEventKey) {
  EXPECT_EQ(invalid_event_reply(), R"({"status":"error","error":"Messages must be JSON and contain an event field."})");
}

TEST(Replies, PongEchoesStringDataCutTo128Characters) {
  EXPECT_EQ(pong_reply(Json::parse(R"({"event":"ping","data":"x"})")), R"({"event":"pong","data":"x"})");
  EXPECT_EQ(pong_reply(Json::parse(R"({"event":"ping","data":5})")), R"({"event":"pong","data":null})");
  EXPECT_EQ(pong_reply(Json::parse(R"({"event":"ping"})")), R"({"event":"pong","data":null})");
  auto long_ping = Json::parse(R"({"event":"ping"})");
  long_ping["data"] = std::string(300, 'a');
  EXPECT_EQ(pong_reply(long_ping), R"({"event":"pong","data":")" + std::string(128, 'a') + "\"}");
}

TEST(Replies, OkReplyKeepsSocketSharksKeyOrder) {
  Json extra = Json::parse(R"({"org":1})");
  Json data = Json::parse(R"({"x":true})");
  EXPECT_EQ(ok_reply("subscribe", &extra, &data, "svc.t"),
            R"({"event":"subscribe","status":"ok","org":1,"data":{"x":true},"subscription":"svc.t"})");
  EXPECT_EQ(ok_reply("auth", nullptr, nullptr, ""), R"({"event":"auth","status":"ok"})");
  Json null_data;
  EXPECT_EQ(ok_reply("message", nullptr, &null_data, "a.b"), R"({"event":"message","status":"ok","subscription":"a.b"})");
}

TEST(Replies, ErrorReplyCarriesErrorThenExtraThenDataThenSubscription) {
  Json extra = Json::parse(R"({"org":1})");
  Json data = Json::parse(R"({"why":"x"})");
  EXPECT_EQ(error_reply("subscribe", errors::unauthorized, &extra, &data, "svc.t"),
            R"({"event":"subscribe","status":"error","error":"Unauthorized.","org":1,"data":{"why":"x"},"subscription":"svc.t"})");
  EXPECT_EQ(error_reply("bogus", errors::unknown_event, nullptr, nullptr, ""),
            R"({"event":"bogus","status":"error","error":"Event not found."})");
}

TEST(Replies, UnsubscribeNoticeOmitsNullData) {
  Json extra = Json::parse(R"({"org":1})");
  Json null_data;
  EXPECT_EQ(unsubscribe_notice("a.b", &null_data, "Unauthorized.", extra),
            R"({"event":"unsubscribe","subscription":"a.b","error":"Unauthorized.","org":1})");
  Json data = Json::parse("[1]");
  EXPECT_EQ(unsubscribe_notice("a.b", &data, "Gone.", Json::object()),
            R"({"event":"unsubscribe","subscription":"a.b","data":[1],"error":"Gone."})");
}

TEST(Replies, InvalidUtf8IsReplacedNotThrown) {
  Json value = std::string("\xFF");
  EXPECT_NO_THROW(to_wire(value));
}

TEST(Json, TruthyFollowsPython) {
  for (const char* falsy : {"null", "false", "0", "0.0", "-0.0", "\"\"", "[]", "{}"})
    EXPECT_FALSE(socketshark::truthy(Json::parse(falsy))) << falsy;
  for (const char* truthy : {"true", "1", "-1", "0.5", "18446744073709551615", "\" \"", "[0]", "{\"a\":null}"})
    EXPECT_TRUE(socketshark::truthy(Json::parse(truthy))) << truthy;
}
