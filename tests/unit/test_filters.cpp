// Filter fields, order and throttle of SPEC §3, checked against SocketShark.
//
// The tables were produced by running CPython 3.11.7:
//   kEqualityCases: json.loads(left) == json.loads(right), which is what
//     SocketShark's _should_deliver_message_filter_fields compares with;
//   kOrderSequences: messages fed one after another to SocketShark's own
//     _get_options and _should_deliver_message_order (from subscription.py)
//     on one subscription, with whether each was delivered.
#include "socketshark/routing/filters.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace socketshark::routing {
namespace {

const std::vector<std::string> kFilterFields = {"user_id", "org_id", "visible_to"};
const std::vector<std::string> kExtraFields = {"org_id", "channel"};

bool delivered(const char* message, const char* extra_data, const char* auth_info) {
  return filter_fields_match(Json::parse(message), kFilterFields, kExtraFields, Json::parse(extra_data),
                             Json::parse(auth_info));
}

TEST(FilterFields, FieldsNotInTheMessageNeverFilter) {
  EXPECT_TRUE(delivered(R"({"data":{}})", "{}", R"({"user_id":1})"));
  EXPECT_TRUE(delivered(R"({"data":{},"other":2})", "{}", R"({"other":3})"));  // not a filter field
  EXPECT_TRUE(filter_fields_match(Json::parse(R"({"user_id":1})"), {}, kExtraFields, Json::object(),
                                  Json::object()));
}

TEST(FilterFields, AuthFieldsCompareWithAuthInfo) {
  EXPECT_TRUE(delivered(R"({"user_id":1})", "{}", R"({"user_id":1})"));
  EXPECT_FALSE(delivered(R"({"user_id":2})", "{}", R"({"user_id":1})"));
  EXPECT_FALSE(delivered(R"({"user_id":"1"})", "{}", R"({"user_id":1})"));
  // An auth field is never looked up in the extra data.
  EXPECT_FALSE(delivered(R"({"user_id":1})", R"({"user_id":1})", "{}"));
}

TEST(FilterFields, ExtraFieldsCompareWithExtraDataOnly) {
  EXPECT_TRUE(delivered(R"({"org_id":"o1"})", R"({"org_id":"o1"})", R"({"org_id":"o2"})"));
  EXPECT_FALSE(delivered(R"({"org_id":"o2"})", R"({"org_id":"o1"})", R"({"org_id":"o2"})"));
}

TEST(FilterFields, MissingValuesCountAsNull) {
  EXPECT_TRUE(delivered(R"({"user_id":null})", "{}", "{}"));
  EXPECT_TRUE(delivered(R"({"org_id":null})", "{}", R"({"org_id":"o1"})"));
  EXPECT_FALSE(delivered(R"({"user_id":null})", "{}", R"({"user_id":1})"));
  EXPECT_FALSE(delivered(R"({"user_id":1})", "{}", "{}"));
  EXPECT_TRUE(delivered(R"({"user_id":null})", "{}", "null"));  // no auth info at all
}

TEST(FilterFields, EveryPresentFieldMustMatch) {
  const char* auth = R"({"user_id":1,"visible_to":["a","b"]})";
  EXPECT_TRUE(delivered(R"({"user_id":1,"org_id":"o","visible_to":["a","b"]})", R"({"org_id":"o"})", auth));
  EXPECT_FALSE(delivered(R"({"user_id":1,"org_id":"x","visible_to":["a","b"]})", R"({"org_id":"o"})", auth));
  EXPECT_FALSE(delivered(R"({"user_id":1,"org_id":"o","visible_to":["b","a"]})", R"({"org_id":"o"})", auth));
}

TEST(FilterFields, ComparesAsPythonDoes) {
  // bool is an int in Python; dict order does not matter; int vs float is exact.
  EXPECT_TRUE(delivered(R"({"user_id":true})", "{}", R"({"user_id":1.0})"));
  EXPECT_TRUE(delivered(R"({"user_id":{"a":1,"b":2}})", "{}", R"({"user_id":{"b":2,"a":1}})"));
  EXPECT_FALSE(delivered(R"({"user_id":9007199254740993})", "{}", R"({"user_id":9007199254740992.0})"));
}

struct EqualityCase {
  std::string_view left;
  std::string_view right;
  bool equal;
};

const EqualityCase kEqualityCases[] = {
    {R"(null)", R"(null)", true},
    {R"(null)", R"(true)", false},
    {R"(null)", R"(false)", false},
    {R"(null)", R"(0)", false},
    {R"(null)", R"(1)", false},
    {R"(null)", R"(1.0)", false},
    {R"(null)", R"(-0.0)", false},
    {R"(null)", R"("1")", false},
    {R"(null)", R"("")", false},
    {R"(null)", R"([])", false},
    {R"(null)", R"([1, 2])", false},
    {R"(null)", R"([1.0, true])", false},
    {R"(null)", R"([2, 1])", false},
    {R"(null)", R"({})", false},
    {R"(null)", R"({"a": 1, "b": [true]})", false},
    {R"(null)", R"({"b": [1.0], "a": true})", false},
    {R"(null)", R"({"a": null})", false},
    {R"(null)", R"(9007199254740993)", false},
    {R"(null)", R"(9007199254740992.0)", false},
    {R"(null)", R"(18446744073709551615)", false},
    {R"(null)", R"(1.8446744073709552e19)", false},
    {R"(null)", R"([[null]])", false},
    {R"(true)", R"(true)", true},
    {R"(true)", R"(false)", false},
    {R"(true)", R"(0)", false},
    {R"(true)", R"(1)", true},
    {R"(true)", R"(1.0)", true},
    {R"(true)", R"(-0.0)", false},
    {R"(true)", R"("1")", false},
    {R"(true)", R"("")", false},
    {R"(true)", R"([])", false},
    {R"(true)", R"([1, 2])", false},
    {R"(true)", R"([1.0, true])", false},
    {R"(true)", R"([2, 1])", false},
    {R"(true)", R"({})", false},
    {R"(true)", R"({"a": 1, "b": [true]})", false},
    {R"(true)", R"({"b": [1.0], "a": true})", false},
    {R"(true)", R"({"a": null})", false},
    {R"(true)", R"(9007199254740993)", false},
    {R"(true)", R"(9007199254740992.0)", false},
    {R"(true)", R"(18446744073709551615)", false},
    {R"(true)", R"(1.8446744073709552e19)", false},
    {R"(true)", R"([[null]])", false},
    {R"(false)", R"(false)", true},
    {R"(false)", R"(0)", true},
    {R"(false)", R"(1)", false},
    {R"(false)", R"(1.0)", false},
    {R"(false)", R"(-0.0)", true},
    {R"(false)", R"("1")", false},
    {R"(false)", R"("")", false},
    {R"(false)", R"([])", false},
    {R"(false)", R"([1, 2])", false},
    {R"(false)", R"([1.0, true])", false},
    {R"(false)", R"([2, 1])", false},
    {R"(false)", R"({})", false},
    {R"(false)", R"({"a": 1, "b": [true]})", false},
    {R"(false)", R"({"b": [1.0], "a": true})", false},
    {R"(false)", R"({"a": null})", false},
    {R"(false)", R"(9007199254740993)", false},
    {R"(false)", R"(9007199254740992.0)", false},
    {R"(false)", R"(18446744073709551615)", false},
    {R"(false)", R"(1.8446744073709552e19)", false},
    {R"(false)", R"([[null]])", false},
    {R"(0)", R"(0)", true},
    {R"(0)", R"(1)", false},
    {R"(0)", R"(1.0)", false},
    {R"(0)", R"(-0.0)", true},
    {R"(0)", R"("1")", false},
    {R"(0)", R"("")", false},
    {R"(0)", R"([])", false},
    {R"(0)", R"([1, 2])", false},
    {R"(0)", R"([1.0, true])", false},
    {R"(0)", R"([2, 1])", false},
    {R"(0)", R"({})", false},
    {R"(0)", R"({"a": 1, "b": [true]})", false},
    {R"(0)", R"({"b": [1.0], "a": true})", false},
    {R"(0)", R"({"a": null})", false},
    {R"(0)", R"(9007199254740993)", false},
    {R"(0)", R"(9007199254740992.0)", false},
    {R"(0)", R"(18446744073709551615)", false},
    {R"(0)", R"(1.8446744073709552e19)", false},
    {R"(0)", R"([[null]])", false},
    {R"(1)", R"(1)", true},
    {R"(1)", R"(1.0)", true},
    {R"(1)", R"(-0.0)", false},
    {R"(1)", R"("1")", false},
    {R"(1)", R"("")", false},
    {R"(1)", R"([])", false},
    {R"(1)", R"([1, 2])", false},
    {R"(1)", R"([1.0, true])", false},
    {R"(1)", R"([2, 1])", false},
    {R"(1)", R"({})", false},
    {R"(1)", R"({"a": 1, "b": [true]})", false},
    {R"(1)", R"({"b": [1.0], "a": true})", false},
    {R"(1)", R"({"a": null})", false},
    {R"(1)", R"(9007199254740993)", false},
    {R"(1)", R"(9007199254740992.0)", false},
    {R"(1)", R"(18446744073709551615)", false},
    {R"(1)", R"(1.8446744073709552e19)", false},
    {R"(1)", R"([[null]])", false},
    {R"(1.0)", R"(1.0)", true},
    {R"(1.0)", R"(-0.0)", false},
    {R"(1.0)", R"("1")", false},
    {R"(1.0)", R"("")", false},
    {R"(1.0)", R"([])", false},
    {R"(1.0)", R"([1, 2])", false},
    {R"(1.0)", R"([1.0, true])", false},
    {R"(1.0)", R"([2, 1])", false},
    {R"(1.0)", R"({})", false},
    {R"(1.0)", R"({"a": 1, "b": [true]})", false},
    {R"(1.0)", R"({"b": [1.0], "a": true})", false},
    {R"(1.0)", R"({"a": null})", false},
    {R"(1.0)", R"(9007199254740993)", false},
    {R"(1.0)", R"(9007199254740992.0)", false},
    {R"(1.0)", R"(18446744073709551615)", false},
    {R"(1.0)", R"(1.8446744073709552e19)", false},
    {R"(1.0)", R"([[null]])", false},
    {R"(-0.0)", R"(-0.0)", true},
    {R"(-0.0)", R"("1")", false},
    {R"(-0.0)", R"("")", false},
    {R"(-0.0)", R"([])", false},
    {R"(-0.0)", R"([1, 2])", false},
    {R"(-0.0)", R"([1.0, true])", false},
    {R"(-0.0)", R"([2, 1])", false},
    {R"(-0.0)", R"({})", false},
    {R"(-0.0)", R"({"a": 1, "b": [true]})", false},
    {R"(-0.0)", R"({"b": [1.0], "a": true})", false},
    {R"(-0.0)", R"({"a": null})", false},
    {R"(-0.0)", R"(9007199254740993)", false},
    {R"(-0.0)", R"(9007199254740992.0)", false},
    {R"(-0.0)", R"(18446744073709551615)", false},
    {R"(-0.0)", R"(1.8446744073709552e19)", false},
    {R"(-0.0)", R"([[null]])", false},
    {R"("1")", R"("1")", true},
    {R"("1")", R"("")", false},
    {R"("1")", R"([])", false},
    {R"("1")", R"([1, 2])", false},
    {R"("1")", R"([1.0, true])", false},
    {R"("1")", R"([2, 1])", false},
    {R"("1")", R"({})", false},
    {R"("1")", R"({"a": 1, "b": [true]})", false},
    {R"("1")", R"({"b": [1.0], "a": true})", false},
    {R"("1")", R"({"a": null})", false},
    {R"("1")", R"(9007199254740993)", false},
    {R"("1")", R"(9007199254740992.0)", false},
    {R"("1")", R"(18446744073709551615)", false},
    {R"("1")", R"(1.8446744073709552e19)", false},
    {R"("1")", R"([[null]])", false},
    {R"("")", R"("")", true},
    {R"("")", R"([])", false},
    {R"("")", R"([1, 2])", false},
    {R"("")", R"([1.0, true])", false},
    {R"("")", R"([2, 1])", false},
    {R"("")", R"({})", false},
    {R"("")", R"({"a": 1, "b": [true]})", false},
    {R"("")", R"({"b": [1.0], "a": true})", false},
    {R"("")", R"({"a": null})", false},
    {R"("")", R"(9007199254740993)", false},
    {R"("")", R"(9007199254740992.0)", false},
    {R"("")", R"(18446744073709551615)", false},
    {R"("")", R"(1.8446744073709552e19)", false},
    {R"("")", R"([[null]])", false},
    {R"([])", R"([])", true},
    {R"([])", R"([1, 2])", false},
    {R"([])", R"([1.0, true])", false},
    {R"([])", R"([2, 1])", false},
    {R"([])", R"({})", false},
    {R"([])", R"({"a": 1, "b": [true]})", false},
    {R"([])", R"({"b": [1.0], "a": true})", false},
    {R"([])", R"({"a": null})", false},
    {R"([])", R"(9007199254740993)", false},
    {R"([])", R"(9007199254740992.0)", false},
    {R"([])", R"(18446744073709551615)", false},
    {R"([])", R"(1.8446744073709552e19)", false},
    {R"([])", R"([[null]])", false},
    {R"([1, 2])", R"([1, 2])", true},
    {R"([1, 2])", R"([1.0, true])", false},
    {R"([1, 2])", R"([2, 1])", false},
    {R"([1, 2])", R"({})", false},
    {R"([1, 2])", R"({"a": 1, "b": [true]})", false},
    {R"([1, 2])", R"({"b": [1.0], "a": true})", false},
    {R"([1, 2])", R"({"a": null})", false},
    {R"([1, 2])", R"(9007199254740993)", false},
    {R"([1, 2])", R"(9007199254740992.0)", false},
    {R"([1, 2])", R"(18446744073709551615)", false},
    {R"([1, 2])", R"(1.8446744073709552e19)", false},
    {R"([1, 2])", R"([[null]])", false},
    {R"([1.0, true])", R"([1.0, true])", true},
    {R"([1.0, true])", R"([2, 1])", false},
    {R"([1.0, true])", R"({})", false},
    {R"([1.0, true])", R"({"a": 1, "b": [true]})", false},
    {R"([1.0, true])", R"({"b": [1.0], "a": true})", false},
    {R"([1.0, true])", R"({"a": null})", false},
    {R"([1.0, true])", R"(9007199254740993)", false},
    {R"([1.0, true])", R"(9007199254740992.0)", false},
    {R"([1.0, true])", R"(18446744073709551615)", false},
    {R"([1.0, true])", R"(1.8446744073709552e19)", false},
    {R"([1.0, true])", R"([[null]])", false},
    {R"([2, 1])", R"([2, 1])", true},
    {R"([2, 1])", R"({})", false},
    {R"([2, 1])", R"({"a": 1, "b": [true]})", false},
    {R"([2, 1])", R"({"b": [1.0], "a": true})", false},
    {R"([2, 1])", R"({"a": null})", false},
    {R"([2, 1])", R"(9007199254740993)", false},
    {R"([2, 1])", R"(9007199254740992.0)", false},
    {R"([2, 1])", R"(18446744073709551615)", false},
    {R"([2, 1])", R"(1.8446744073709552e19)", false},
    {R"([2, 1])", R"([[null]])", false},
    {R"({})", R"({})", true},
    {R"({})", R"({"a": 1, "b": [true]})", false},
    {R"({})", R"({"b": [1.0], "a": true})", false},
    {R"({})", R"({"a": null})", false},
    {R"({})", R"(9007199254740993)", false},
    {R"({})", R"(9007199254740992.0)", false},
    {R"({})", R"(18446744073709551615)", false},
    {R"({})", R"(1.8446744073709552e19)", false},
    {R"({})", R"([[null]])", false},
    {R"({"a": 1, "b": [true]})", R"({"a": 1, "b": [true]})", true},
    {R"({"a": 1, "b": [true]})", R"({"b": [1.0], "a": true})", true},
    {R"({"a": 1, "b": [true]})", R"({"a": null})", false},
    {R"({"a": 1, "b": [true]})", R"(9007199254740993)", false},
    {R"({"a": 1, "b": [true]})", R"(9007199254740992.0)", false},
    {R"({"a": 1, "b": [true]})", R"(18446744073709551615)", false},
    {R"({"a": 1, "b": [true]})", R"(1.8446744073709552e19)", false},
    {R"({"a": 1, "b": [true]})", R"([[null]])", false},
    {R"({"b": [1.0], "a": true})", R"({"b": [1.0], "a": true})", true},
    {R"({"b": [1.0], "a": true})", R"({"a": null})", false},
    {R"({"b": [1.0], "a": true})", R"(9007199254740993)", false},
    {R"({"b": [1.0], "a": true})", R"(9007199254740992.0)", false},
    {R"({"b": [1.0], "a": true})", R"(18446744073709551615)", false},
    {R"({"b": [1.0], "a": true})", R"(1.8446744073709552e19)", false},
    {R"({"b": [1.0], "a": true})", R"([[null]])", false},
    {R"({"a": null})", R"({"a": null})", true},
    {R"({"a": null})", R"(9007199254740993)", false},
    {R"({"a": null})", R"(9007199254740992.0)", false},
    {R"({"a": null})", R"(18446744073709551615)", false},
    {R"({"a": null})", R"(1.8446744073709552e19)", false},
    {R"({"a": null})", R"([[null]])", false},
    {R"(9007199254740993)", R"(9007199254740993)", true},
    {R"(9007199254740993)", R"(9007199254740992.0)", false},
    {R"(9007199254740993)", R"(18446744073709551615)", false},
    {R"(9007199254740993)", R"(1.8446744073709552e19)", false},
    {R"(9007199254740993)", R"([[null]])", false},
    {R"(9007199254740992.0)", R"(9007199254740992.0)", true},
    {R"(9007199254740992.0)", R"(18446744073709551615)", false},
    {R"(9007199254740992.0)", R"(1.8446744073709552e19)", false},
    {R"(9007199254740992.0)", R"([[null]])", false},
    {R"(18446744073709551615)", R"(18446744073709551615)", true},
    {R"(18446744073709551615)", R"(1.8446744073709552e19)", false},
    {R"(18446744073709551615)", R"([[null]])", false},
    {R"(1.8446744073709552e19)", R"(1.8446744073709552e19)", true},
    {R"(1.8446744073709552e19)", R"([[null]])", false},
    {R"([[null]])", R"([[null]])", true},
};

TEST(FilterFields, MatchExactlyWhenPythonValuesAreEqual) {
  const std::vector<std::string> fields = {"f"};
  for (const auto& c : kEqualityCases) {
    for (bool extra : {false, true}) {
      for (auto [sent, held] : {std::pair{c.left, c.right}, std::pair{c.right, c.left}}) {
        Json message = {{"subscription", "s.t"}, {"f", Json::parse(sent)}};
        Json stored = {{"f", Json::parse(held)}};
        const std::vector<std::string> extra_fields = extra ? fields : std::vector<std::string>{};
        bool match = filter_fields_match(message, fields, extra_fields, extra ? stored : Json::object(),
                                         extra ? Json::object() : stored);
        EXPECT_EQ(match, c.equal) << sent << " vs " << held << (extra ? " (extra field)" : " (auth field)");
      }
    }
  }
}

MessageOptions order_options(std::optional<double> order, const char* key_json = "null") {
  MessageOptions options;
  options.order = order;
  options.order_key = key_of(Json::parse(key_json));
  return options;
}

TEST(OrderState, DropsMessagesNotAboveTheHighestSeenPerKey) {
  OrderState state;
  EXPECT_TRUE(state.accept(order_options(1)));
  EXPECT_TRUE(state.accept(order_options(5)));
  EXPECT_FALSE(state.accept(order_options(5)));  // equal is out of order too
  EXPECT_FALSE(state.accept(order_options(4.5)));
  EXPECT_TRUE(state.accept(order_options(5.5)));

  EXPECT_TRUE(state.accept(order_options(2, R"("a")")));  // another key starts afresh
  EXPECT_FALSE(state.accept(order_options(2, R"("a")")));
  EXPECT_TRUE(state.accept(order_options(3, R"("b")")));
  EXPECT_FALSE(state.accept(order_options(5.5)));
  EXPECT_EQ(state.size(), 3u);
}

TEST(OrderState, MessagesWithoutOrderPassAndLeaveNoState) {
  OrderState state;
  EXPECT_TRUE(state.accept(order_options(std::nullopt)));
  EXPECT_TRUE(state.accept(parse_options(Json::parse(R"({"options":{"order":"later","order_key":"k"}})"))));
  EXPECT_EQ(state.size(), 0u);
  EXPECT_TRUE(state.accept(order_options(-1e300)));
  EXPECT_TRUE(state.accept(order_options(std::nullopt)));
  EXPECT_FALSE(state.accept(order_options(-1e300)));
}

TEST(OrderState, NanIsAlwaysAcceptedAndThenAcceptsAnything) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  OrderState state;
  EXPECT_TRUE(state.accept(order_options(10)));
  EXPECT_TRUE(state.accept(order_options(nan)));  // nan <= 10 is False in Python
  EXPECT_TRUE(state.accept(order_options(nan)));
  EXPECT_TRUE(state.accept(order_options(1)));  // 1 <= nan is False too
  EXPECT_FALSE(state.accept(order_options(1)));
}

TEST(OrderState, InfinityClosesTheKey) {
  const double inf = std::numeric_limits<double>::infinity();
  OrderState state;
  EXPECT_TRUE(state.accept(order_options(inf)));
  EXPECT_FALSE(state.accept(order_options(inf)));
  EXPECT_FALSE(state.accept(order_options(1e308)));
}

struct OrderStep {
  std::string_view message;
  bool delivered;
};

const std::vector<std::vector<OrderStep>> kOrderSequences = {
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "1_5"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": " 7 "}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1e+300, "order_key": 1.0}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1, "order_key": ""}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "1_5", "order_key": 1.0}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 10, "order_key": ""}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "nan"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": -1, "order_key": ""}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2.5, "order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 0, "order_key": 1}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2.5}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 10, "order_key": null}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2, "order_key": "1"}})", true},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2, "order_key": null}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2.5}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "NaN"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": true, "order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": false}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": [1]}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": [1]}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "-inf", "order_key": "1"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "NaN", "order_key": true}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1e+300, "order_key": true}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "1e999"}})", true},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1e+300, "order_key": 1.0}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1e+300, "order_key": "a"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 10}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order_key": null}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order_key": 1}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "nan", "order_key": ""}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": -1, "order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": -1, "order_key": "a"}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 3, "order_key": 1}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 10, "order_key": ""}})", true},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2.5, "order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": false, "order_key": 1.0}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 0, "order_key": 1.0}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2.5}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "x", "order_key": null}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": null, "order_key": null}})", true},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 3, "order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": true, "order_key": 1}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "inf"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": -1, "order_key": null}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1, "order_key": 1}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": -1, "order_key": null}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": false, "order_key": null}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "NaN", "order_key": ""}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2, "order_key": 1.0}})", true},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "NaN", "order_key": "a"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "x"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "1_5", "order_key": "a"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "nan", "order_key": null}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 10, "order_key": null}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "4", "order_key": 1}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "-inf"}})", false},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "nan", "order_key": 1}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order_key": 1.0}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": false}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "inf", "order_key": "1"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": null, "order_key": true}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "inf"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2.5, "order_key": null}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "-inf", "order_key": "a"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1}})", false},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2, "order_key": "1"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "-inf", "order_key": 1.0}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": -1, "order_key": ""}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1, "order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "NaN", "order_key": "1"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2.5}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "4"}})", true},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": true}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 3, "order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": -1, "order_key": 1}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "1_5", "order_key": ""}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": [1], "order_key": "a"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 3, "order_key": "b"}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 3, "order_key": true}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order_key": 1.0}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": true, "order_key": null}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": -1}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": [1], "order_key": null}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": -1}})", false},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": false}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "inf"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 3}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "inf", "order_key": true}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": null, "order_key": ""}})", true},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "1_5", "order_key": ""}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1, "order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": " 7 "}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": -1, "order_key": true}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "1_5"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "1_5"}})", false},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": true, "order_key": "a"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1e+300, "order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "NaN"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 1, "order_key": 1}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "1_5", "order_key": "1"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "x", "order_key": null}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 3, "order_key": 1}})", true},
    },
    {
        {R"({"subscription": "s.t", "data": {}, "options": {"order": false, "order_key": ""}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": true, "order_key": 1.0}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 2, "order_key": "b"}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": "x", "order_key": 1}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {}})", true},
        {R"({"subscription": "s.t", "data": {}, "options": {"order": 3, "order_key": ""}})", true},
    },
};

TEST(OrderState, MatchesSocketSharkOnPublishedSequences) {
  for (std::size_t sequence = 0; sequence < kOrderSequences.size(); ++sequence) {
    OrderState state;
    for (const auto& step : kOrderSequences[sequence]) {
      EXPECT_EQ(state.accept(parse_options(Json::parse(step.message))), step.delivered)
          << "sequence " << sequence << ": " << step.message;
    }
  }
}

// ThrottleState follows SocketShark's (last sent, pending, task) per key:
// the first message goes at once; inside the period the newest message waits
// for one timer at last sent + period; the timer sends whatever is newest.
using Throttle = ThrottleState<std::string>;

TEST(ThrottleState, FirstMessageGoesAtOnce) {
  Throttle throttle;
  auto offer = throttle.offer("k", 1.0, 100.0, "a");
  EXPECT_TRUE(offer.send_now);
  EXPECT_EQ(offer.schedule_at, std::nullopt);
  EXPECT_FALSE(throttle.has_pending());
  EXPECT_EQ(throttle.size(), 1u);
}

TEST(ThrottleState, InsideThePeriodTheLatestMessageWaitsForOneTimer) {
  Throttle throttle;
  ASSERT_TRUE(throttle.offer("k", 1.0, 100.0, "a").send_now);

  auto second = throttle.offer("k", 1.0, 100.25, "b");
  EXPECT_FALSE(second.send_now);
  EXPECT_EQ(second.schedule_at, 101.0);  // last send + period
  EXPECT_TRUE(throttle.has_pending());

  auto third = throttle.offer("k", 1.0, 100.5, "c");
  EXPECT_FALSE(third.send_now);
  EXPECT_EQ(third.schedule_at, std::nullopt);  // the timer is already running

  EXPECT_EQ(throttle.fire("k", 101.0), "c");
  EXPECT_FALSE(throttle.has_pending());
  EXPECT_EQ(throttle.fire("k", 101.0), std::nullopt);  // nothing left to send
}

TEST(ThrottleState, ThePeriodRestartsWhenTheTimerSends) {
  Throttle throttle;
  throttle.offer("k", 1.0, 100.0, "a");
  throttle.offer("k", 1.0, 100.5, "b");
  ASSERT_EQ(throttle.fire("k", 101.25), "b");  // timers can be late

  auto next = throttle.offer("k", 1.0, 102.0, "c");
  EXPECT_FALSE(next.send_now);
  EXPECT_EQ(next.schedule_at, 102.25);
  EXPECT_EQ(throttle.fire("k", 102.25), "c");
  EXPECT_TRUE(throttle.offer("k", 1.0, 103.25, "d").send_now);
}

TEST(ThrottleState, AfterThePeriodAMessageGoesAtOnce) {
  Throttle throttle;
  throttle.offer("k", 1.0, 100.0, "a");
  EXPECT_TRUE(throttle.offer("k", 1.0, 101.0, "b").send_now);  // exactly one period later
  EXPECT_FALSE(throttle.offer("k", 1.0, 101.5, "c").send_now);
  EXPECT_TRUE(throttle.has_pending());
}

TEST(ThrottleState, EachMessageBringsItsOwnPeriod) {
  Throttle throttle;
  throttle.offer("k", 1.0, 100.0, "a");
  auto longer = throttle.offer("k", 5.0, 102.0, "b");  // within 5 s of the last send
  EXPECT_FALSE(longer.send_now);
  EXPECT_EQ(longer.schedule_at, 105.0);
  // A later, shorter period does not move the running timer.
  EXPECT_EQ(throttle.offer("k", 0.1, 103.0, "c").schedule_at, std::nullopt);
  EXPECT_EQ(throttle.fire("k", 105.0), "c");
}

TEST(ThrottleState, KeysAreIndependent) {
  Throttle throttle;
  EXPECT_TRUE(throttle.offer("null", 1.0, 100.0, "a1").send_now);
  EXPECT_TRUE(throttle.offer(R"("x")", 1.0, 100.1, "x1").send_now);
  EXPECT_EQ(throttle.offer("null", 1.0, 100.2, "a2").schedule_at, 101.0);
  EXPECT_EQ(throttle.offer(R"("x")", 1.0, 100.3, "x2").schedule_at, 101.1);
  EXPECT_EQ(throttle.fire("null", 101.0), "a2");
  EXPECT_TRUE(throttle.has_pending());  // "x" still waits
  EXPECT_EQ(throttle.fire(R"("x")", 101.1), "x2");
  EXPECT_FALSE(throttle.has_pending());
  EXPECT_EQ(throttle.size(), 2u);
}

TEST(ThrottleState, NonPositiveOrNanPeriodsNeverHold) {
  // Python's `now - last < throttle` is False for 0, negative and NaN.
  Throttle throttle;
  for (double period : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_TRUE(throttle.offer("k", period, 100.0, "a").send_now);
    EXPECT_TRUE(throttle.offer("k", period, 100.0, "b").send_now);
  }
  EXPECT_FALSE(throttle.has_pending());
}

TEST(ThrottleState, ClearDropsPendingMessages) {
  Throttle throttle;
  throttle.offer("k", 1.0, 100.0, "a");
  throttle.offer("k", 1.0, 100.5, "b");
  throttle.clear();
  EXPECT_FALSE(throttle.has_pending());
  EXPECT_EQ(throttle.fire("k", 101.0), std::nullopt);
  EXPECT_TRUE(throttle.offer("k", 1.0, 100.6, "c").send_now);
}

}  // namespace
}  // namespace socketshark::routing
