"""SPEC §1/§2: a 2xx answer with a JSON content type whose body is not a JSON
object is an unexpected failure: `Unhandled exception.`, then close 1000."""

import pytest

from harness import ERR_UNHANDLED, SESSION_ID, Client, Reply, ok

S = "full.topic"


async def authed_client(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    return c


@pytest.mark.parametrize("body", ["[1, 2]", '"ok"', "42", "null", "{not json", ""])
async def test_json_answer_that_is_not_an_object_is_unhandled_and_closes_with_1000(daemon, fake_service, body):
    fake_service.set("/full/authorizer", Reply(body=body))
    c = await authed_client(daemon)
    assert await c.request({"event": "subscribe", "subscription": S, "extra": "e"}) == {
        "event": "subscribe",
        "subscription": S,
        "status": "error",
        "error": ERR_UNHANDLED,
        "extra": "e",
    }
    assert await c.expect_closed() == 1000


async def test_json_answer_that_is_not_an_object_is_not_retried(config, start_daemon, fake_service):
    config["http"] = {"timeout": 5, "tries": 3, "wait": 0.1}
    daemon = start_daemon(config)
    fake_service.set("/full/authorizer", Reply(body="[1]"))
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S})
    assert await c.expect_closed() == 1000
    assert fake_service.count("/full/authorizer") == 1


async def test_unhandled_failure_in_auth_answer(daemon, fake_service):
    fake_service.set("/auth/ticket", Reply(body="[]"))
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "t"}) == {
        "event": "auth",
        "status": "error",
        "error": ERR_UNHANDLED,
    }
    assert await c.expect_closed() == 1000


async def test_unhandled_failure_in_message_echoes_the_stored_extra_data(daemon, fake_service):
    fake_service.set("/full/on_message", Reply(body="oops", content_type="application/json"))
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S, "extra": "stored"})
    assert await c.request({"event": "message", "subscription": S, "extra": "event's"}) == {
        "event": "message",
        "subscription": S,
        "status": "error",
        "error": ERR_UNHANDLED,
        "extra": "stored",
    }
    assert await c.expect_closed() == 1000


async def test_unhandled_failure_cleans_up_live_subscriptions(daemon, fake_service):
    fake_service.set("/full/on_message", Reply(body="[]"))
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S, "extra": "e"})
    await c.request({"event": "message", "subscription": S})
    assert await c.expect_closed() == 1000
    (after,) = await fake_service.wait_for("/full/on_unsubscribe")
    (before,) = fake_service.requests("/full/before_unsubscribe")
    body = {"subscription": S, "extra": "e", "session_id": SESSION_ID}
    assert before.json == body
    assert after.json == body
    assert before.at <= after.at


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "application/vnd.api+json", "Application/JSON"],
)
async def test_json_content_type_variants_are_accepted(daemon, fake_service, content_type):
    fake_service.set("/full/on_message", Reply(json={"status": "ok", "data": "yes"}, content_type=content_type))
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S})
    assert await c.request({"event": "message", "subscription": S}) == {
        "event": "message",
        "subscription": S,
        "status": "ok",
        "data": "yes",
    }


async def test_answer_with_unknown_keys_is_fine(daemon, fake_service):
    fake_service.set("/full/on_message", ok(data="d", whatever={"x": 1}))
    c = await authed_client(daemon)
    await c.request({"event": "subscribe", "subscription": S})
    assert await c.request({"event": "message", "subscription": S}) == {
        "event": "message",
        "subscription": S,
        "status": "ok",
        "data": "d",
    }
