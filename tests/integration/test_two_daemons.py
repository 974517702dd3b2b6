"""Several daemons on one Redis (SocketShark's scaling model, docs/scaling.md):
each daemon SUBSCRIBEs once per channel, so a message published once reaches
the subscribed sessions of every daemon, once each. Order and throttle state
belong to a session on one daemon and never leak to another."""

from __future__ import annotations

import asyncio
import copy
import json
import signal
import time
import urllib.error
import urllib.request

import pytest

from harness import Client, free_port

PREFIX = "pfx:"
PUBLISH_KEY = "two-daemons-key"


def admin_url(daemon, path: str) -> str:
    return f"http://127.0.0.1:{daemon.config['metrics']['prometheus']['port']}{path}"


async def wait_ready(daemon, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(admin_url(daemon, "/readyz"), timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{daemon.log_path.name} not ready after {timeout} s")
        await asyncio.sleep(0.02)


@pytest.fixture
def daemons(config, redis_server, start_daemon):
    """Two daemons on the same Redis, as behind a load balancer."""
    config["broker"] = "redis"
    config["redis"] = {"host": "127.0.0.1", "port": redis_server.port, "channel_prefix": PREFIX}
    config["publish_api"] = {"keys": [PUBLISH_KEY]}
    started = []
    for name in ("daemon_a", "daemon_b"):
        own = copy.deepcopy(config)
        own["ws_port"] = free_port()
        own["metrics"] = {"prometheus": {"host": "127.0.0.1", "port": free_port()}}
        started.append(start_daemon(own, name=name))
    return started


def publish(rds, name: str, data, **options) -> int:
    message = {"subscription": name, "data": data}
    if options:
        message["options"] = options
    return rds.publish(PREFIX + name, json.dumps(message))


async def session(daemon, *names: str) -> Client:
    c = await Client.connect(daemon.ws_url)
    for name in names:
        reply = await c.request({"event": "subscribe", "subscription": name})
        assert reply == {"event": "subscribe", "subscription": name, "status": "ok"}, reply
    return c


async def received(c: Client) -> object:
    msg = await c.recv_json()
    assert msg["event"] == "message", msg
    return msg["data"]


async def test_one_publish_reaches_every_daemon_once_per_session(daemons, rds):
    a, b = daemons
    for d in daemons:
        await wait_ready(d)
    sessions = [await session(d, "open.room") for d in (a, a, b, b)]
    bystander = await session(a, "open.other")
    # One SUBSCRIBE per daemon, whatever its number of sessions.
    assert rds.pubsub_numsub(PREFIX + "open.room") == [(f"{PREFIX}open.room".encode(), 2)]

    assert publish(rds, "open.room", {"n": 1}) == 2  # two Redis subscribers: the daemons
    for c in sessions:
        assert await received(c) == {"n": 1}
    for c in sessions + [bystander]:
        await c.expect_no_message(0.3)


async def test_publish_api_of_one_daemon_reaches_the_sessions_of_all(daemons):
    a, b = daemons
    for d in daemons:
        await wait_ready(d)
    on_a, on_b = await session(a, "open.news"), await session(b, "open.news")
    request = urllib.request.Request(
        admin_url(a, "/publish"),
        data=json.dumps({"subscription": "open.news", "data": "hello"}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {PUBLISH_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read()) == {"status": "ok", "published": 1}
    assert await received(on_a) == "hello"
    assert await received(on_b) == "hello"
    await on_a.expect_no_message(0.3)
    await on_b.expect_no_message(0.3)


async def test_order_state_is_per_session_and_per_daemon(daemons, rds):
    a, b = daemons
    for d in daemons:
        await wait_ready(d)
    early = await session(a, "open.feed")
    publish(rds, "open.feed", "five", order=5)
    assert await received(early) == "five"

    # Sessions that arrive later have seen nothing yet, on either daemon.
    late_b = await session(b, "open.feed")
    late_a = await session(a, "open.feed")
    publish(rds, "open.feed", "three", order=3)
    assert await received(late_b) == "three"
    assert await received(late_a) == "three"
    await early.expect_no_message(0.3)  # 3 <= 5: dropped for this session only

    publish(rds, "open.feed", "four", order=4)
    assert await received(late_b) == "four"
    assert await received(late_a) == "four"
    await early.expect_no_message(0.3)

    publish(rds, "open.feed", "six", order=6)
    for c in (early, late_a, late_b):
        assert await received(c) == "six"
        await c.expect_no_message(0.2)


async def test_throttle_state_is_per_session_and_per_daemon(daemons, rds):
    a, b = daemons
    for d in daemons:
        await wait_ready(d)
    on_a, on_b = await session(a, "open.ticks"), await session(b, "open.ticks")
    publish(rds, "open.ticks", 0, throttle=1.0)
    assert await received(on_a) == 0
    assert await received(on_b) == 0

    # A fresh session on daemon b is outside any throttle period: the next
    # message reaches it at once, while the others hold it until theirs ends.
    fresh = await session(b, "open.ticks")
    start = time.monotonic()
    publish(rds, "open.ticks", 1, throttle=1.0)
    assert await received(fresh) == 1
    assert time.monotonic() - start < 0.5
    await on_a.expect_no_message(0.2)
    await on_b.expect_no_message(0.0)
    assert await received(on_a) == 1
    assert await received(on_b) == 1
    assert time.monotonic() - start > 0.5
    for c in (on_a, on_b, fresh):
        await c.expect_no_message(0.3)


async def test_a_stopped_daemon_leaves_the_others_delivering(daemons, rds):
    a, b = daemons
    for d in daemons:
        await wait_ready(d)
    on_a, on_b = await session(a, "open.room"), await session(b, "open.room")
    a.send_signal(signal.SIGTERM)
    assert await on_a.expect_closed() == 1001  # going away: its clients reconnect to another daemon
    assert await asyncio.to_thread(a.wait, 10) == 0
    assert rds.pubsub_numsub(PREFIX + "open.room") == [(f"{PREFIX}open.room".encode(), 1)]
    assert publish(rds, "open.room", "still here") == 1
    assert await received(on_b) == "still here"
