"""SPEC §1 `subscribe` and the callback bodies of §2."""

import time

import pytest

from harness import (
    ERR_ALREADY_SUBSCRIBED,
    ERR_AUTH_REQUIRED,
    ERR_BAD_SERVICE,
    ERR_BAD_SUBSCRIPTION,
    ERR_NOT_SUBSCRIBED,
    ERR_SERVICE_UNAVAILABLE,
    ERR_UNAUTHORIZED,
    ERR_UNHANDLED,
    SESSION_ID,
    Client,
    Reply,
    callback_urls,
    error,
    http_status,
    ok,
)

S = "full.topic"


def sub_ok(name=S, **fields):
    return {"event": "subscribe", "subscription": name, "status": "ok", **fields}


def sub_error(name, text, **fields):
    msg = {"event": "subscribe", "status": "error", "error": text, **fields}
    if name:
        msg["subscription"] = name
    return msg


async def authed_client(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    return c


# -- validation -------------------------------------------------------------


async def test_missing_subscription_is_invalid_format_without_subscription_key(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe"}) == sub_error(None, ERR_BAD_SUBSCRIPTION)


@pytest.mark.parametrize("name", ["", None])
async def test_empty_subscription_is_invalid_format_without_subscription_key(daemon, name):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": name}) == sub_error(None, ERR_BAD_SUBSCRIPTION)


async def test_subscription_without_dot_is_invalid_format(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "opentopic"}) == sub_error(
        "opentopic", ERR_BAD_SUBSCRIPTION
    )


@pytest.mark.parametrize("name", [".topic", "open.", "."])
async def test_empty_service_or_topic_part_is_invalid_format(daemon, name):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": name}) == sub_error(name, ERR_BAD_SUBSCRIPTION)


async def test_unknown_service_is_invalid_service(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "nope.topic", "extra": "x"}) == sub_error(
        "nope.topic", ERR_BAD_SERVICE
    )


async def test_subscription_is_split_at_the_first_dot(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "open.a.b.c"}) == sub_ok("open.a.b.c")


async def test_service_name_is_case_sensitive(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "Open.topic"}) == sub_error(
        "Open.topic", ERR_BAD_SERVICE
    )


# -- authentication ---------------------------------------------------------


async def test_service_requires_authentication_by_default(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "closed.topic"}) == sub_error(
        "closed.topic", ERR_AUTH_REQUIRED
    )
    assert fake_service.requests() == []


async def test_authenticated_client_can_subscribe(daemon):
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": "closed.topic"}) == sub_ok("closed.topic")


async def test_require_authentication_false_works_without_auth(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "open.topic"}) == sub_ok("open.topic")


async def test_error_before_subscribing_carries_the_events_extra_fields(daemon):
    c = await Client.connect(daemon.ws_url)
    reply = await c.request({"event": "subscribe", "subscription": S, "extra": "x", "other": "y"})
    assert reply == sub_error(S, ERR_AUTH_REQUIRED, extra="x")


# -- already subscribed -----------------------------------------------------


async def test_second_subscribe_is_already_subscribed(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "open.topic"}) == sub_ok("open.topic")
    assert await c.request({"event": "subscribe", "subscription": "open.topic"}) == sub_error(
        "open.topic", ERR_ALREADY_SUBSCRIBED
    )


async def test_already_subscribed_echoes_the_stored_extra_data_and_calls_nothing(daemon, fake_service):
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S, "extra": "one"}) == sub_ok(extra="one")
    await fake_service.wait_for("/full/on_subscribe")
    reply = await c.request({"event": "subscribe", "subscription": S, "extra": "two"})
    assert reply == sub_error(S, ERR_ALREADY_SUBSCRIBED, extra="one")
    await c.ping_pong()
    assert fake_service.count("/full/authorizer") == 1
    assert fake_service.count("/full/before_subscribe") == 1


async def test_already_subscribed_without_extra_fields_in_the_event_still_echoes_stored_ones(daemon):
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S, "extra": "one"}) == sub_ok(extra="one")
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_error(
        S, ERR_ALREADY_SUBSCRIBED, extra="one"
    )


# -- authorizer -------------------------------------------------------------


async def test_authorizer_refusal_with_error_and_data_is_relayed(daemon, fake_service):
    fake_service.set("/full/authorizer", error(error="Forbidden topic.", data={"reason": "plan"}))
    c = await authed_client(daemon)
    reply = await c.request({"event": "subscribe", "subscription": S, "extra": "x"})
    assert reply == sub_error(S, "Forbidden topic.", data={"reason": "plan"}, extra="x")


async def test_authorizer_refusal_without_error_is_unauthorized(daemon, fake_service):
    fake_service.set("/full/authorizer", error())
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_error(S, ERR_UNAUTHORIZED)


async def test_authorizer_refusal_with_empty_data_has_no_data_key(daemon, fake_service):
    fake_service.set("/full/authorizer", error(error="No.", data={}))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_error(S, "No.")


async def test_authorizer_outage_is_service_unavailable(daemon, fake_service):
    fake_service.set("/full/authorizer", http_status(503))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_error(S, ERR_SERVICE_UNAVAILABLE)


async def test_authorizer_refusal_leaves_no_subscription(daemon, fake_service):
    fake_service.set("/full/authorizer", error())
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S})
    assert await c.request({"event": "message", "subscription": S, "data": 1}) == {
        "event": "message",
        "subscription": S,
        "status": "error",
        "error": ERR_NOT_SUBSCRIBED,
    }
    assert fake_service.count("/full/before_subscribe") == 0
    assert fake_service.count("/full/on_subscribe") == 0
    assert fake_service.count("/full/on_message") == 0


async def test_authorizer_body_is_subscription_extra_data_and_auth_info(daemon, fake_service):
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S, "extra": "x", "other": "y"})
    (req,) = fake_service.requests("/full/authorizer")
    assert req.json == {"subscription": S, "extra": "x", "session_id": SESSION_ID}


async def test_authorizer_fields_are_sent_in_later_callback_bodies(daemon, fake_service):
    fake_service.set("/full/authorizer", ok(capabilities=["read"], plan="pro"))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_ok()
    await fake_service.wait_for("/full/on_subscribe")
    await c.send_json({"event": "message", "subscription": S, "data": "d"})  # on_message: no reply
    assert await c.request({"event": "unsubscribe", "subscription": S}) == {
        "event": "unsubscribe",
        "subscription": S,
        "status": "ok",
    }
    await fake_service.wait_for("/full/on_unsubscribe")
    expected = {"subscription": S, "capabilities": ["read"], "session_id": SESSION_ID}
    assert fake_service.bodies("/full/before_subscribe") == [expected]
    assert fake_service.bodies("/full/on_subscribe") == [expected]
    assert fake_service.bodies("/full/on_message") == [{**expected, "data": "d"}]
    assert fake_service.bodies("/full/before_unsubscribe") == [expected]
    assert fake_service.bodies("/full/on_unsubscribe") == [expected]


# -- before_subscribe -------------------------------------------------------


async def test_before_subscribe_refusal_with_error_and_data_is_relayed(daemon, fake_service):
    fake_service.set("/full/before_subscribe", error(error="Topic closed.", data={"retry": False}))
    c = await authed_client(daemon)
    reply = await c.request({"event": "subscribe", "subscription": S, "extra": "x"})
    assert reply == sub_error(S, "Topic closed.", data={"retry": False}, extra="x")


async def test_before_subscribe_refusal_without_error_is_unhandled_exception(daemon, fake_service):
    fake_service.set("/full/before_subscribe", error())
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_error(S, ERR_UNHANDLED)


async def test_before_subscribe_refusal_keeps_the_connection_open(daemon, fake_service):
    fake_service.set("/full/before_subscribe", error())
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S})
    await c.ping_pong()


async def test_before_subscribe_refusal_leaves_no_subscription(daemon, fake_service):
    fake_service.queue("/full/before_subscribe", error(error="later"))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_error(S, "later")
    assert await c.request({"event": "unsubscribe", "subscription": S}) == {
        "event": "unsubscribe",
        "subscription": S,
        "status": "error",
        "error": ERR_NOT_SUBSCRIBED,
    }
    # A new attempt goes through the whole sequence again.
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_ok()
    assert fake_service.count("/full/authorizer") == 2
    assert fake_service.count("/full/before_unsubscribe") == 0


async def test_before_subscribe_refusal_does_not_call_on_subscribe(daemon, fake_service):
    fake_service.set("/full/before_subscribe", error(error="no"))
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S})
    await c.ping_pong()
    await c.close()
    await fake_service.wait_for("/full/before_subscribe")
    assert fake_service.count("/full/on_subscribe") == 0
    assert fake_service.count("/full/on_unsubscribe") == 0


async def test_before_subscribe_data_is_returned_in_the_ok_reply(daemon, fake_service):
    fake_service.set("/full/before_subscribe", ok(data={"history": [1, 2]}, ignored="x"))
    c = await authed_client(daemon)
    reply = await c.request({"event": "subscribe", "subscription": S, "extra": "e"})
    assert reply == sub_ok(data={"history": [1, 2]}, extra="e")


async def test_before_subscribe_null_data_gives_no_data_key(daemon, fake_service):
    fake_service.set("/full/before_subscribe", ok(data=None))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_ok()


async def test_before_subscribe_empty_object_data_is_kept(daemon, fake_service):
    fake_service.set("/full/before_subscribe", ok(data={}))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_ok(data={})


async def test_subscribe_reply_is_filtered_like_a_message(config, start_daemon, fake_service):
    # §1 step 7: the reply passes through the filters with before_subscribe's
    # answer as the message; a mismatching filter field suppresses it, but
    # the subscription is live.
    config["services"]["filtered"] = {
        **callback_urls(fake_service, "filtered", "before_subscribe"),
        "filter_fields": ["session_id"],
    }
    daemon = start_daemon(config)
    fake_service.set("/filtered/before_subscribe", ok(session_id="someone else", data={"x": 1}))
    c = await authed_client(daemon)
    await c.send_json({"event": "subscribe", "subscription": "filtered.t"})
    await c.expect_no_message(0.5)
    assert await c.request({"event": "subscribe", "subscription": "filtered.t"}) == sub_error(
        "filtered.t", ERR_ALREADY_SUBSCRIBED
    )


async def test_subscribe_reply_passes_a_matching_filter(config, start_daemon, fake_service):
    config["services"]["filtered"] = {
        **callback_urls(fake_service, "filtered", "before_subscribe"),
        "filter_fields": ["session_id"],
    }
    daemon = start_daemon(config)
    fake_service.set("/filtered/before_subscribe", ok(session_id=SESSION_ID, data={"x": 1}))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": "filtered.t"}) == sub_ok(
        "filtered.t", data={"x": 1}
    )


# -- extra fields -----------------------------------------------------------


async def test_only_configured_extra_fields_are_echoed_in_the_reply(daemon):
    c = await authed_client(daemon)
    reply = await c.request({"event": "subscribe", "subscription": S, "extra": "e", "other": "o"})
    assert reply == sub_ok(extra="e")


async def test_extra_field_values_keep_their_json_type(daemon):
    c = await Client.connect(daemon.ws_url)
    value = {"nested": [1, 2.5, None, True]}
    assert await c.request({"event": "subscribe", "subscription": "bare.t", "extra": value}) == sub_ok(
        "bare.t", extra=value
    )


async def test_null_extra_field_is_kept(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "bare.t", "extra": None}) == sub_ok(
        "bare.t", extra=None
    )


async def test_extra_fields_are_sent_in_callback_bodies(daemon, fake_service):
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S, "extra": "e", "other": "o"})
    await fake_service.wait_for("/full/on_subscribe")
    expected = {"subscription": S, "extra": "e", "session_id": SESSION_ID}
    assert fake_service.bodies("/full/authorizer") == [expected]
    assert fake_service.bodies("/full/before_subscribe") == [expected]
    assert fake_service.bodies("/full/on_subscribe") == [expected]


async def test_callback_body_precedence_is_extra_then_authorizer_then_auth(config, start_daemon, fake_service):
    # {"subscription"} + extra data + authorizer data + auth info, later wins.
    config["authentication"]["ticket"]["auth_fields"] = ["session_id", "c"]
    config["services"]["clash"] = {
        **callback_urls(fake_service, "clash", "authorizer", "before_subscribe"),
        "extra_fields": ["a", "b", "c"],
        "authorizer_fields": ["b", "c"],
    }
    daemon = start_daemon(config)
    fake_service.set("/auth/ticket", ok(session_id=SESSION_ID, c="auth"))
    fake_service.set("/clash/authorizer", ok(b="authorizer", c="authorizer"))
    c = await authed_client(daemon)
    reply = await c.request({"event": "subscribe", "subscription": "clash.t", "a": "extra", "b": "extra", "c": "extra"})
    assert reply == sub_ok("clash.t", a="extra", b="extra", c="extra")
    # The authorizer runs before there is authorizer data.
    assert fake_service.bodies("/clash/authorizer") == [
        {"subscription": "clash.t", "a": "extra", "b": "extra", "c": "auth", "session_id": SESSION_ID}
    ]
    assert fake_service.bodies("/clash/before_subscribe") == [
        {"subscription": "clash.t", "a": "extra", "b": "authorizer", "c": "auth", "session_id": SESSION_ID}
    ]


# -- on_subscribe -----------------------------------------------------------


async def test_callbacks_run_in_order_authorizer_before_subscribe_on_subscribe(daemon, fake_service):
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S})
    await fake_service.wait_for("/full/on_subscribe")
    paths = [r.path for r in fake_service.requests() if r.path.startswith("/full/")]
    assert paths == ["/full/authorizer", "/full/before_subscribe", "/full/on_subscribe"]


async def test_on_subscribe_is_called_after_the_reply(daemon, fake_service):
    fake_service.set("/full/on_subscribe", ok().delayed(2.0))
    c = await authed_client(daemon)
    sent = time.monotonic()
    assert await c.request({"event": "subscribe", "subscription": S, "extra": "e"}, timeout=1.5) == sub_ok(extra="e")
    assert time.monotonic() - sent < 1.5
    (req,) = await fake_service.wait_for("/full/on_subscribe")
    assert req.json == {"subscription": S, "extra": "e", "session_id": SESSION_ID}


@pytest.mark.parametrize("answer", [error(error="on_subscribe failed"), http_status(500)])
async def test_on_subscribe_failure_changes_nothing(daemon, fake_service, answer):
    fake_service.set("/full/on_subscribe", answer)
    fake_service.set("/full/on_message", ok(data="pong"))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_ok()
    await fake_service.wait_for("/full/on_subscribe")
    assert await c.request({"event": "message", "subscription": S, "data": "ping"}) == {
        "event": "message",
        "subscription": S,
        "status": "ok",
        "data": "pong",
    }
    assert await c.request({"event": "unsubscribe", "subscription": S}) == {
        "event": "unsubscribe",
        "subscription": S,
        "status": "ok",
    }


async def test_subscriptions_are_per_connection(daemon):
    a = await Client.connect(daemon.ws_url)
    b = await Client.connect(daemon.ws_url)
    assert await a.request({"event": "subscribe", "subscription": "open.t"}) == sub_ok("open.t")
    assert await b.request({"event": "subscribe", "subscription": "open.t"}) == sub_ok("open.t")
    assert await b.request({"event": "message", "subscription": "open.other"}) == {
        "event": "message",
        "subscription": "open.other",
        "status": "error",
        "error": ERR_NOT_SUBSCRIBED,
    }


@pytest.mark.parametrize("data", ["text", [1], {"k": None}, 7])
async def test_authorizer_refusal_data_of_any_json_type_is_relayed(daemon, fake_service, data):
    fake_service.set("/full/authorizer", error(error="No.", data=data))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_error(S, "No.", data=data)


async def test_authorizer_refusal_with_null_data_has_no_data_key(daemon, fake_service):
    fake_service.set("/full/authorizer", error(error="No.", data=None))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_error(S, "No.")


async def test_only_the_extra_fields_present_are_echoed(config, start_daemon):
    config["services"]["multi"] = {"require_authentication": False, "extra_fields": ["a", "b", "c"]}
    daemon = start_daemon(config)
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "multi.t", "c": 3, "a": 1}) == sub_ok(
        "multi.t", a=1, c=3
    )


async def test_each_subscription_keeps_its_own_extra_data(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.request({"event": "subscribe", "subscription": "bare.one", "extra": 1})
    await c.request({"event": "subscribe", "subscription": "bare.two", "extra": 2})
    assert await c.request({"event": "unsubscribe", "subscription": "bare.one"}) == {
        "event": "unsubscribe",
        "subscription": "bare.one",
        "status": "ok",
        "extra": 1,
    }
    assert await c.request({"event": "unsubscribe", "subscription": "bare.two"}) == {
        "event": "unsubscribe",
        "subscription": "bare.two",
        "status": "ok",
        "extra": 2,
    }


async def test_callback_url_query_string_is_kept(config, start_daemon, fake_service):
    config["services"]["full"]["authorizer"] = fake_service.url("/full/authorizer?key=abc&x=1")
    daemon = start_daemon(config)
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_ok()
    (req,) = fake_service.requests("/full/authorizer")
    assert req.query == "key=abc&x=1"


@pytest.mark.parametrize(
    "answer",
    [{"capabilities": "x"}, {"status": "OK"}, {"status": True}],
    ids=["no_status", "upper_case_ok", "true"],
)
async def test_authorizer_answer_without_status_ok_is_unauthorized(daemon, fake_service, answer):
    fake_service.set("/full/authorizer", Reply(json=answer))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S}) == sub_error(S, ERR_UNAUTHORIZED)
