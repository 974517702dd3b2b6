"""SPEC §1 `unsubscribe`."""

import time

from harness import (
    subscribed_client,
    ERR_ALREADY_SUBSCRIBED,
    ERR_BAD_SUBSCRIPTION,
    ERR_NOT_SUBSCRIBED,
    ERR_UNHANDLED,
    SESSION_ID,
    Client,
    error,
    ok,
)

S = "full.topic"


def unsub_reply(status, name=S, **fields):
    return {"event": "unsubscribe", "subscription": name, "status": status, **fields}




async def test_unsubscribe_without_subscription_is_invalid_format(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "unsubscribe"}) == {
        "event": "unsubscribe",
        "status": "error",
        "error": ERR_BAD_SUBSCRIPTION,
    }


async def test_unsubscribe_when_not_subscribed_is_an_error_and_calls_nothing(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    assert await c.request({"event": "unsubscribe", "subscription": S, "extra": "e"}) == unsub_reply(
        "error", error=ERR_NOT_SUBSCRIBED, extra="e"
    )
    assert fake_service.count("/full/before_unsubscribe") == 0
    assert fake_service.count("/full/on_unsubscribe") == 0


async def test_unsubscribe_replies_ok_with_the_stored_extra_data(daemon, fake_service):
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "unsubscribe", "subscription": S, "extra": "event's"}) == unsub_reply(
        "ok", extra="stored"
    )


async def test_unsubscribe_reply_carries_before_unsubscribe_data(daemon, fake_service):
    fake_service.set("/full/before_unsubscribe", ok(data={"bye": True}))
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "unsubscribe", "subscription": S}) == unsub_reply(
        "ok", data={"bye": True}, extra="stored"
    )


async def test_unsubscribe_then_on_unsubscribe_with_the_stored_body(daemon, fake_service):
    c = await subscribed_client(daemon, fake_service)
    await c.request({"event": "unsubscribe", "subscription": S})
    (after,) = await fake_service.wait_for("/full/on_unsubscribe")
    (before,) = fake_service.requests("/full/before_unsubscribe")
    expected = {"subscription": S, "extra": "stored", "session_id": SESSION_ID}
    assert before.json == expected
    assert after.json == expected
    assert before.at <= after.at


async def test_on_unsubscribe_is_called_after_the_reply(daemon, fake_service):
    fake_service.set("/full/on_unsubscribe", ok().delayed(2.0))
    c = await subscribed_client(daemon, fake_service)
    sent = time.monotonic()
    assert await c.request({"event": "unsubscribe", "subscription": S}, timeout=1.5) == unsub_reply(
        "ok", extra="stored"
    )
    assert time.monotonic() - sent < 1.5
    await fake_service.wait_for("/full/on_unsubscribe")


async def test_unsubscribed_subscription_no_longer_exists(daemon, fake_service):
    c = await subscribed_client(daemon, fake_service)
    await c.request({"event": "unsubscribe", "subscription": S})
    assert await c.request({"event": "message", "subscription": S}) == {
        "event": "message",
        "subscription": S,
        "status": "error",
        "error": ERR_NOT_SUBSCRIBED,
    }


async def test_resubscribe_after_unsubscribe_runs_the_full_sequence(daemon, fake_service):
    c = await subscribed_client(daemon, fake_service, extra="first")
    await c.request({"event": "unsubscribe", "subscription": S})
    assert await c.request({"event": "subscribe", "subscription": S, "extra": "second"}) == {
        "event": "subscribe",
        "subscription": S,
        "status": "ok",
        "extra": "second",
    }
    assert fake_service.count("/full/authorizer") == 2
    assert fake_service.bodies("/full/before_subscribe")[-1] == {
        "subscription": S,
        "extra": "second",
        "session_id": SESSION_ID,
    }


async def test_before_unsubscribe_refusal_is_relayed_and_keeps_the_subscription(daemon, fake_service):
    fake_service.queue("/full/before_unsubscribe", error(error="Not now.", data={"wait": 5}))
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "unsubscribe", "subscription": S}) == unsub_reply(
        "error", error="Not now.", data={"wait": 5}, extra="stored"
    )
    assert await c.request({"event": "subscribe", "subscription": S}) == {
        "event": "subscribe",
        "subscription": S,
        "status": "error",
        "error": ERR_ALREADY_SUBSCRIBED,
        "extra": "stored",
    }
    assert fake_service.count("/full/on_unsubscribe") == 0
    # The next attempt succeeds (the refusal was queued once).
    assert await c.request({"event": "unsubscribe", "subscription": S}) == unsub_reply("ok", extra="stored")


async def test_before_unsubscribe_refusal_without_error_is_unhandled_exception(daemon, fake_service):
    fake_service.queue("/full/before_unsubscribe", error())
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "unsubscribe", "subscription": S}) == unsub_reply(
        "error", error=ERR_UNHANDLED, extra="stored"
    )
    await c.ping_pong()


async def test_on_unsubscribe_failure_is_ignored(daemon, fake_service):
    fake_service.set("/full/on_unsubscribe", error(error="boom"))
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "unsubscribe", "subscription": S}) == unsub_reply("ok", extra="stored")
    await fake_service.wait_for("/full/on_unsubscribe")
    await c.expect_no_message(0.3)
    await c.ping_pong()


async def test_unsubscribe_from_a_service_without_callbacks(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.request({"event": "subscribe", "subscription": "open.t"})
    assert await c.request({"event": "unsubscribe", "subscription": "open.t"}) == unsub_reply("ok", "open.t")


async def test_before_unsubscribe_null_data_gives_no_data_key(daemon, fake_service):
    fake_service.set("/full/before_unsubscribe", ok(data=None))
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "unsubscribe", "subscription": S}) == unsub_reply("ok", extra="stored")


async def test_before_unsubscribe_empty_object_data_is_kept(daemon, fake_service):
    fake_service.set("/full/before_unsubscribe", ok(data={}))
    c = await subscribed_client(daemon, fake_service)
    assert await c.request({"event": "unsubscribe", "subscription": S}) == unsub_reply("ok", data={}, extra="stored")
