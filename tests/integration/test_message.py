"""SPEC §1 `message` (client to service)."""

import pytest

from harness import (
    subscribed_client,
    ERR_BAD_SERVICE,
    ERR_BAD_SUBSCRIPTION,
    ERR_NOT_SUBSCRIBED,
    ERR_SERVICE_UNAVAILABLE,
    ERR_UNHANDLED,
    SESSION_ID,
    Client,
    error,
    http_status,
    ok,
)

S = "full.topic"


def msg_reply(status, name=S, **fields):
    return {"event": "message", "subscription": name, "status": status, **fields}




async def test_message_without_subscription_is_invalid_format(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "message", "data": 1}) == {
        "event": "message",
        "status": "error",
        "error": ERR_BAD_SUBSCRIPTION,
    }


async def test_message_to_unknown_service_is_invalid_service(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "message", "subscription": "nope.t"}) == msg_reply(
        "error", "nope.t", error=ERR_BAD_SERVICE
    )


async def test_message_when_not_subscribed_is_an_error_and_calls_nothing(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    assert await c.request({"event": "message", "subscription": S, "data": 1}) == msg_reply(
        "error", error=ERR_NOT_SUBSCRIBED
    )
    assert fake_service.count("/full/on_message") == 0


async def test_message_when_not_subscribed_echoes_the_events_extra_fields(daemon):
    c = await Client.connect(daemon.ws_url)
    reply = await c.request({"event": "message", "subscription": S, "extra": "mine", "other": 1})
    assert reply == msg_reply("error", error=ERR_NOT_SUBSCRIBED, extra="mine")


async def test_on_message_ok_with_data_replies_with_the_data(daemon, fake_service):
    fake_service.set("/full/on_message", ok(data={"answer": 42}))
    c = await subscribed_client(daemon, fake_service)
    reply = await c.request({"event": "message", "subscription": S, "data": "q", "extra": "event's"})
    assert reply == msg_reply("ok", data={"answer": 42}, extra="stored")


async def test_on_message_ok_with_null_data_replies_without_data_key(daemon, fake_service):
    fake_service.set("/full/on_message", ok(data=None))
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "message", "subscription": S, "data": "q"}) == msg_reply("ok", extra="stored")


@pytest.mark.parametrize("data", [0, False, "", [], {}])
async def test_on_message_ok_with_falsy_data_keeps_it(daemon, fake_service, data):
    fake_service.set("/full/on_message", ok(data=data))
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "message", "subscription": S}) == msg_reply("ok", data=data, extra="stored")


async def test_on_message_ok_without_data_sends_no_reply(daemon, fake_service):
    fake_service.set("/full/on_message", ok(other="x"))
    c = await subscribed_client(daemon, fake_service)
    await c.send_json({"event": "message", "subscription": S, "data": "q"})
    await fake_service.wait_for("/full/on_message")
    await c.expect_no_message(0.5)
    await c.ping_pong()


async def test_on_message_error_is_relayed(daemon, fake_service):
    fake_service.set("/full/on_message", error(error="Read only."))
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "message", "subscription": S, "data": "q"}) == msg_reply(
        "error", error="Read only.", extra="stored"
    )


async def test_on_message_error_data_is_relayed(daemon, fake_service):
    fake_service.set("/full/on_message", error(error="Invalid.", data={"field": "x"}))
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "message", "subscription": S, "data": "q"}) == msg_reply(
        "error", error="Invalid.", data={"field": "x"}, extra="stored"
    )


async def test_on_message_error_without_text_is_unhandled_exception_and_keeps_connection(daemon, fake_service):
    fake_service.set("/full/on_message", error())
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "message", "subscription": S, "data": "q"}) == msg_reply(
        "error", error=ERR_UNHANDLED, extra="stored"
    )
    await c.ping_pong()


async def test_on_message_outage_is_service_unavailable(daemon, fake_service):
    fake_service.set("/full/on_message", http_status(502))
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "message", "subscription": S, "data": "q"}) == msg_reply(
        "error", error=ERR_SERVICE_UNAVAILABLE, extra="stored"
    )


async def test_message_without_on_message_configured_gets_no_reply(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "bare.t", "extra": "e"}) == {
        "event": "subscribe",
        "subscription": "bare.t",
        "status": "ok",
        "extra": "e",
    }
    await c.send_json({"event": "message", "subscription": "bare.t", "data": "hello"})
    await c.expect_no_message(0.5)
    await c.ping_pong()


async def test_on_message_body_has_stored_fields_and_the_data(daemon, fake_service):
    fake_service.set("/full/authorizer", ok(capabilities="rw"))
    c = await subscribed_client(daemon, fake_service)
    await c.send_json({"event": "message", "subscription": S, "data": {"text": "hi"}, "extra": "x", "other": 1})
    (req,) = await fake_service.wait_for("/full/on_message")
    assert req.json == {
        "subscription": S,
        "extra": "stored",
        "capabilities": "rw",
        "session_id": SESSION_ID,
        "data": {"text": "hi"},
    }


async def test_message_without_data_sends_null_data(daemon, fake_service):
    c = await subscribed_client(daemon, fake_service)
    await c.send_json({"event": "message", "subscription": S})
    (req,) = await fake_service.wait_for("/full/on_message")
    assert req.json == {"subscription": S, "extra": "stored", "session_id": SESSION_ID, "data": None}


async def test_message_with_subscription_without_dot_is_invalid_format(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "message", "subscription": "nodot"}) == msg_reply(
        "error", "nodot", error=ERR_BAD_SUBSCRIPTION
    )
