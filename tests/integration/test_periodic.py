"""SPEC §2 periodic authorization and heartbeats."""

import asyncio

import pytest

from harness import (
    ERR_NOT_SUBSCRIBED,
    ERR_SERVICE_UNAVAILABLE,
    ERR_UNAUTHORIZED,
    SESSION_ID,
    Client,
    callback_urls,
    error,
    http_status,
    ok,
)

R = "renew.topic"
B = "beat.topic"
PERIOD = 0.3
HEARTBEAT = 0.2


@pytest.fixture
def periodic_daemon(config, start_daemon, fake_service):
    config["services"]["renew"] = {
        **callback_urls(
            fake_service,
            "renew",
            "authorizer",
            "on_subscribe",
            "before_unsubscribe",
            "on_unsubscribe",
            "on_authorization_change",
        ),
        "authorizer_fields": ["capabilities"],
        "extra_fields": ["extra"],
        "authorization_renewal_period": PERIOD,
    }
    config["services"]["beat"] = {
        **callback_urls(fake_service, "beat", "on_heartbeat", "on_message"),
        "require_authentication": False,
        "extra_fields": ["extra"],
        "heartbeat_period": HEARTBEAT,
    }
    return start_daemon(config)


async def renew_client(daemon, fake_service, extra="e"):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    assert await c.request({"event": "subscribe", "subscription": R, "extra": extra}) == {
        "event": "subscribe",
        "subscription": R,
        "status": "ok",
        "extra": extra,
    }
    await fake_service.wait_for("/renew/on_subscribe")
    return c


async def beat_client(daemon):
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": B, "extra": "e"}) == {
        "event": "subscribe",
        "subscription": B,
        "status": "ok",
        "extra": "e",
    }
    return c


# -- periodic authorization -------------------------------------------------


async def test_authorizer_is_run_again_periodically(periodic_daemon, fake_service):
    c = await renew_client(periodic_daemon, fake_service)
    reqs = await fake_service.wait_for("/renew/authorizer", 4, timeout=5)
    body = {"subscription": R, "extra": "e", "session_id": SESSION_ID}
    assert [r.json for r in reqs[:4]] == [body] * 4
    for earlier, later in zip(reqs[1:], reqs[2:4]):
        assert later.at - earlier.at >= PERIOD * 0.7
    await c.expect_no_message(0.1)


async def test_renewal_body_carries_the_stored_authorizer_data(periodic_daemon, fake_service):
    fake_service.set("/renew/authorizer", ok(capabilities="rw"))
    await renew_client(periodic_daemon, fake_service)
    reqs = await fake_service.wait_for("/renew/authorizer", 2, timeout=5)
    assert reqs[0].json == {"subscription": R, "extra": "e", "session_id": SESSION_ID}
    assert reqs[1].json == {"subscription": R, "extra": "e", "capabilities": "rw", "session_id": SESSION_ID}


async def test_revoked_authorization_unsubscribes_the_client(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(), error(error="Access revoked."))
    c = await renew_client(periodic_daemon, fake_service)
    assert await c.recv_json(timeout=5) == {
        "event": "unsubscribe",
        "subscription": R,
        "error": "Access revoked.",
        "extra": "e",
    }
    (before,) = fake_service.requests("/renew/before_unsubscribe")
    (on,) = await fake_service.wait_for("/renew/on_unsubscribe")
    body = {"subscription": R, "extra": "e", "session_id": SESSION_ID}
    assert before.json == body
    assert on.json == body
    assert before.at <= on.at


async def test_revoked_subscription_is_gone(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(), error(error="Access revoked."))
    c = await renew_client(periodic_daemon, fake_service)
    assert (await c.recv_json(timeout=5))["event"] == "unsubscribe"
    assert await c.request({"event": "unsubscribe", "subscription": R}) == {
        "event": "unsubscribe",
        "subscription": R,
        "status": "error",
        "error": ERR_NOT_SUBSCRIBED,
    }
    n = fake_service.count("/renew/authorizer")
    await asyncio.sleep(PERIOD * 3)
    assert fake_service.count("/renew/authorizer") == n, "authorizer still renewed after revocation"


async def test_revocation_frame_carries_before_unsubscribe_data(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(), error(error="Gone."))
    fake_service.set("/renew/before_unsubscribe", ok(data={"reason": "plan expired"}))
    c = await renew_client(periodic_daemon, fake_service)
    assert await c.recv_json(timeout=5) == {
        "event": "unsubscribe",
        "subscription": R,
        "data": {"reason": "plan expired"},
        "error": "Gone.",
        "extra": "e",
    }


async def test_revocation_ignores_a_before_unsubscribe_refusal(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(), error(error="Gone."))
    fake_service.set("/renew/before_unsubscribe", error(error="refused"))
    c = await renew_client(periodic_daemon, fake_service)
    assert await c.recv_json(timeout=5) == {
        "event": "unsubscribe",
        "subscription": R,
        "error": "Gone.",
        "extra": "e",
    }
    await fake_service.wait_for("/renew/on_unsubscribe")


async def test_revocation_without_error_text_is_unauthorized(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(), error())
    c = await renew_client(periodic_daemon, fake_service)
    assert await c.recv_json(timeout=5) == {
        "event": "unsubscribe",
        "subscription": R,
        "error": ERR_UNAUTHORIZED,
        "extra": "e",
    }


async def test_authorizer_outage_during_renewal_unsubscribes(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(), http_status(503))
    c = await renew_client(periodic_daemon, fake_service)
    assert await c.recv_json(timeout=5) == {
        "event": "unsubscribe",
        "subscription": R,
        "error": ERR_SERVICE_UNAVAILABLE,
        "extra": "e",
    }


async def test_changed_authorizer_fields_call_on_authorization_change(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(capabilities="read"), ok(capabilities="read"))
    fake_service.set("/renew/authorizer", ok(capabilities="write"))
    c = await renew_client(periodic_daemon, fake_service)
    reqs = await fake_service.wait_for("/renew/on_authorization_change", timeout=5)
    assert reqs[0].json == {"subscription": R, "extra": "e", "capabilities": "write", "session_id": SESSION_ID}
    assert fake_service.count("/renew/authorizer") >= 3
    await c.expect_no_message(0.1)


async def test_unchanged_authorizer_fields_do_not_call_on_authorization_change(periodic_daemon, fake_service):
    fake_service.set("/renew/authorizer", ok(capabilities="read"))
    await renew_client(periodic_daemon, fake_service)
    await fake_service.wait_for("/renew/authorizer", 4, timeout=5)
    assert fake_service.count("/renew/on_authorization_change") == 0


async def test_renewal_stops_after_unsubscribe(periodic_daemon, fake_service):
    c = await renew_client(periodic_daemon, fake_service)
    await fake_service.wait_for("/renew/authorizer", 2, timeout=5)
    await c.request({"event": "unsubscribe", "subscription": R})
    await asyncio.sleep(0.1)
    n = fake_service.count("/renew/authorizer")
    await asyncio.sleep(PERIOD * 3)
    assert fake_service.count("/renew/authorizer") == n


async def test_renewal_stops_after_close(periodic_daemon, fake_service):
    c = await renew_client(periodic_daemon, fake_service)
    await c.close()
    await fake_service.wait_for("/renew/on_unsubscribe")
    await asyncio.sleep(0.1)
    n = fake_service.count("/renew/authorizer")
    await asyncio.sleep(PERIOD * 3)
    assert fake_service.count("/renew/authorizer") == n


# -- heartbeats -------------------------------------------------------------


async def test_heartbeats_arrive_periodically(periodic_daemon, fake_service):
    await beat_client(periodic_daemon)
    reqs = await fake_service.wait_for("/beat/on_heartbeat", 3, timeout=5)
    assert [r.json for r in reqs[:3]] == [{"subscription": B, "extra": "e"}] * 3


async def test_first_heartbeat_comes_within_one_period(periodic_daemon, fake_service):
    await beat_client(periodic_daemon)
    await fake_service.wait_for("/beat/on_heartbeat", 1, timeout=HEARTBEAT + 1.0)


async def test_heartbeats_stop_after_unsubscribe(periodic_daemon, fake_service):
    c = await beat_client(periodic_daemon)
    await fake_service.wait_for("/beat/on_heartbeat", 2, timeout=5)
    assert await c.request({"event": "unsubscribe", "subscription": B}) == {
        "event": "unsubscribe",
        "subscription": B,
        "status": "ok",
        "extra": "e",
    }
    await asyncio.sleep(0.1)
    n = fake_service.count("/beat/on_heartbeat")
    await asyncio.sleep(HEARTBEAT * 5)
    assert fake_service.count("/beat/on_heartbeat") == n


async def test_heartbeats_stop_after_close(periodic_daemon, fake_service):
    c = await beat_client(periodic_daemon)
    await fake_service.wait_for("/beat/on_heartbeat", 1, timeout=5)
    await c.close()
    await asyncio.sleep(0.3)
    n = fake_service.count("/beat/on_heartbeat")
    await asyncio.sleep(HEARTBEAT * 5)
    assert fake_service.count("/beat/on_heartbeat") == n


@pytest.mark.parametrize("answer", [error(error="nope"), http_status(500)])
async def test_heartbeat_failures_change_nothing(periodic_daemon, fake_service, answer):
    fake_service.set("/beat/on_heartbeat", answer)
    fake_service.set("/beat/on_message", ok(data="alive"))
    c = await beat_client(periodic_daemon)
    await fake_service.wait_for("/beat/on_heartbeat", 3, timeout=5)
    assert await c.request({"event": "message", "subscription": B}) == {
        "event": "message",
        "subscription": B,
        "status": "ok",
        "data": "alive",
        "extra": "e",
    }


async def test_renewal_jitter_only_shortens_the_period(config, start_daemon, fake_service):
    config["services"]["jitter"] = {
        **callback_urls(fake_service, "jitter", "authorizer"),
        "authorization_renewal_period": 0.6,
        "authorization_renewal_jitter": 0.4,
    }
    daemon = start_daemon(config)
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.request({"event": "subscribe", "subscription": "jitter.t"})
    reqs = await fake_service.wait_for("/jitter/authorizer", 5, timeout=8)
    gaps = [later.at - earlier.at for earlier, later in zip(reqs, reqs[1:5])]
    assert all(0.15 <= g <= 1.2 for g in gaps), gaps


async def test_subscription_stays_live_after_an_authorization_change(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(capabilities="read"))
    fake_service.set("/renew/authorizer", ok(capabilities="write"))
    c = await renew_client(periodic_daemon, fake_service)
    await fake_service.wait_for("/renew/on_authorization_change")
    assert await c.request({"event": "subscribe", "subscription": R}) == {
        "event": "subscribe",
        "subscription": R,
        "status": "error",
        "error": "Already subscribed.",
        "extra": "e",
    }


async def test_revocation_frame_does_not_carry_the_authorizers_data(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(), error(error="Gone.", data={"from": "authorizer"}))
    c = await renew_client(periodic_daemon, fake_service)
    assert await c.recv_json(timeout=5) == {
        "event": "unsubscribe",
        "subscription": R,
        "error": "Gone.",
        "extra": "e",
    }


async def test_revocation_frame_is_sent_after_on_unsubscribe(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(), error(error="Gone."))
    fake_service.set("/renew/on_unsubscribe", ok().delayed(1.0))
    c = await renew_client(periodic_daemon, fake_service)
    frame = await c.recv_json(timeout=6)
    assert frame["event"] == "unsubscribe"
    (on,) = fake_service.requests("/renew/on_unsubscribe")
    assert on.answered_at is not None


async def test_authorizer_fields_disappearing_is_a_change(periodic_daemon, fake_service):
    fake_service.queue("/renew/authorizer", ok(capabilities="read"))
    fake_service.set("/renew/authorizer", ok())
    await renew_client(periodic_daemon, fake_service)
    (req,) = await fake_service.wait_for("/renew/on_authorization_change", timeout=5)
    assert req.json == {"subscription": R, "extra": "e", "session_id": SESSION_ID}
