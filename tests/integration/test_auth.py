"""SPEC §1 `auth` (ticket method)."""

import pytest

from harness import (
    ERR_AUTH_FAILED,
    ERR_AUTH_UNSUPPORTED,
    ERR_NEEDS_TICKET,
    ERR_SERVICE_UNAVAILABLE,
    ERR_UNHANDLED,
    SESSION_ID,
    Client,
    Reply,
    error,
    http_status,
    ok,
)

AUTH_OK = {"event": "auth", "status": "ok"}


def auth_error(text):
    return {"event": "auth", "status": "error", "error": text}


async def test_unsupported_method_is_refused(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "method": "password", "ticket": "t"}) == auth_error(ERR_AUTH_UNSUPPORTED)
    assert fake_service.requests() == []


async def test_null_method_is_unsupported(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "method": None, "ticket": "t"}) == auth_error(ERR_AUTH_UNSUPPORTED)


async def test_ticket_method_is_unsupported_when_not_configured(config, start_daemon, fake_service):
    config["authentication"] = {}
    daemon = start_daemon(config)
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "t"}) == auth_error(ERR_AUTH_UNSUPPORTED)
    assert fake_service.requests() == []


async def test_missing_ticket_is_refused(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth"}) == auth_error(ERR_NEEDS_TICKET)
    assert fake_service.requests() == []


@pytest.mark.parametrize("ticket", ["", None])
async def test_empty_ticket_is_refused(daemon, fake_service, ticket):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "method": "ticket", "ticket": ticket}) == auth_error(ERR_NEEDS_TICKET)
    assert fake_service.requests() == []


async def test_method_defaults_to_ticket(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "T1"}) == AUTH_OK
    assert fake_service.bodies("/auth/ticket") == [{"ticket": "T1"}]


async def test_ticket_is_posted_as_exactly_the_ticket(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "method": "ticket", "ticket": "T2", "other": "x"}) == AUTH_OK
    (req,) = fake_service.requests("/auth/ticket")
    assert req.method == "POST"
    assert req.json == {"ticket": "T2"}
    assert req.headers.get("Content-Type", "").startswith("application/json")


async def test_non_ok_answer_with_error_is_relayed(daemon, fake_service):
    fake_service.set("/auth/ticket", error(error="Ticket expired."))
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "T"}) == auth_error("Ticket expired.")


async def test_non_ok_answer_without_error_is_authentication_failed(daemon, fake_service):
    fake_service.set("/auth/ticket", error(session_id="ignored"))
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "T"}) == auth_error(ERR_AUTH_FAILED)


async def test_answer_without_status_is_authentication_failed(daemon, fake_service):
    fake_service.set("/auth/ticket", Reply(json={"session_id": "s"}))
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "T"}) == auth_error(ERR_AUTH_FAILED)


async def test_unreachable_validation_service_is_service_unavailable(daemon, fake_service):
    fake_service.set("/auth/ticket", http_status(500))
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "T"}) == auth_error(ERR_SERVICE_UNAVAILABLE)


async def test_ok_answer_missing_an_auth_field_is_unhandled_and_closes_with_1000(daemon, fake_service):
    fake_service.set("/auth/ticket", ok(user_id=5))  # auth_fields is [session_id]
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "T"}) == auth_error(ERR_UNHANDLED)
    assert await c.expect_closed() == 1000


async def test_auth_info_is_only_the_auth_fields(daemon, fake_service):
    fake_service.set("/auth/ticket", ok(session_id="s9", user_id=5, name="x"))
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    assert await c.request({"event": "subscribe", "subscription": "full.topic"}) == {
        "event": "subscribe",
        "subscription": "full.topic",
        "status": "ok",
    }
    (req,) = fake_service.requests("/full/authorizer")
    assert req.json == {"subscription": "full.topic", "session_id": "s9"}


async def test_reauth_replaces_auth_info(daemon, fake_service):
    fake_service.queue("/auth/ticket", ok(session_id="first"), ok(session_id="second"))
    c = await Client.connect(daemon.ws_url)
    await c.auth("T1")
    await c.auth("T2")
    await c.request({"event": "subscribe", "subscription": "full.topic"})
    (req,) = fake_service.requests("/full/authorizer")
    assert req.json == {"subscription": "full.topic", "session_id": "second"}


async def test_failed_reauth_keeps_the_previous_auth_info(daemon, fake_service):
    fake_service.queue("/auth/ticket", ok(session_id="first"), error(error="nope", session_id="second"))
    c = await Client.connect(daemon.ws_url)
    await c.auth("T1")
    assert await c.request({"event": "auth", "ticket": "T2"}) == auth_error("nope")
    assert await c.request({"event": "subscribe", "subscription": "full.topic"}) == {
        "event": "subscribe",
        "subscription": "full.topic",
        "status": "ok",
    }
    (req,) = fake_service.requests("/full/authorizer")
    assert req.json == {"subscription": "full.topic", "session_id": "first"}


async def test_auth_field_values_keep_their_json_type(config, start_daemon, fake_service):
    config["authentication"]["ticket"]["auth_fields"] = ["session_id", "user_id", "roles", "anon"]
    daemon = start_daemon(config)
    fake_service.set("/auth/ticket", ok(session_id=SESSION_ID, user_id=42, roles=["a", "b"], anon=None))
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.request({"event": "subscribe", "subscription": "full.topic"})
    (req,) = fake_service.requests("/full/authorizer")
    assert req.json == {
        "subscription": "full.topic",
        "session_id": SESSION_ID,
        "user_id": 42,
        "roles": ["a", "b"],
        "anon": None,
    }


async def test_non_string_ticket_is_posted_as_is(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": 12345}) == AUTH_OK
    assert fake_service.bodies("/auth/ticket") == [{"ticket": 12345}]


async def test_failed_first_auth_leaves_the_session_unauthenticated(daemon, fake_service):
    fake_service.set("/auth/ticket", error(error="bad"))
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "t"}) == auth_error("bad")
    assert await c.request({"event": "subscribe", "subscription": "closed.t"}) == {
        "event": "subscribe",
        "subscription": "closed.t",
        "status": "error",
        "error": "Authentication required.",
    }


async def test_reauth_changes_the_auth_info_of_existing_subscriptions(daemon, fake_service):
    fake_service.queue("/auth/ticket", ok(session_id="first"), ok(session_id="second"))
    c = await Client.connect(daemon.ws_url)
    await c.auth("T1")
    await c.request({"event": "subscribe", "subscription": "full.topic"})
    await c.auth("T2")
    await c.send_json({"event": "message", "subscription": "full.topic", "data": 1})
    (req,) = await fake_service.wait_for("/full/on_message")
    assert req.json == {"subscription": "full.topic", "session_id": "second", "data": 1}


@pytest.mark.parametrize("ticket", [0, False, [], {}])
async def test_falsy_ticket_is_refused(daemon, fake_service, ticket):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": ticket}) == auth_error(ERR_NEEDS_TICKET)
    assert fake_service.requests() == []
