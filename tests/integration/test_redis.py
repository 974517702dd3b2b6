"""SPEC §1 with `broker: redis`: channel subscription bookkeeping (steps 5-8,
close) and the basics of delivery that §1 relies on."""

import asyncio
import json
import time

import pytest

from harness import Client, callback_urls, error, ok

PREFIX = "pfx:"


@pytest.fixture
def redis_config(config, redis_server, fake_service):
    config["broker"] = "redis"
    config["redis"] = {"host": "127.0.0.1", "port": redis_server.port, "channel_prefix": PREFIX}
    config["services"]["slow"] = {
        **callback_urls(fake_service, "slow", "before_subscribe", "on_message"),
        "require_authentication": False,
        "extra_fields": ["extra"],
    }
    config["services"]["picky"] = {
        **callback_urls(fake_service, "picky", "before_subscribe"),
        "require_authentication": False,
        "extra_fields": ["extra"],
        "filter_fields": ["extra"],
    }
    return config


@pytest.fixture
def redis_daemon(redis_config, start_daemon):
    return start_daemon(redis_config)


async def wait_channels(rds, expected, timeout=5.0):
    """Wait until the set of subscription channels under PREFIX equals ``expected``
    (subscription names contain a '.'; the daemon's liveness probe channel,
    `<prefix>socketshark:probe:<random>`, does not)."""
    deadline = time.monotonic() + timeout
    while True:
        channels = {c.decode() for c in rds.pubsub_channels(PREFIX + "*.*")}
        if channels == set(expected):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"redis channels {sorted(channels)}, expected {sorted(expected)}")
        await asyncio.sleep(0.02)


def publish(rds, channel, message):
    return rds.publish(PREFIX + channel, json.dumps(message))


async def test_subscribe_subscribes_the_prefixed_channel(redis_daemon, rds):
    c = await Client.connect(redis_daemon.ws_url)
    await c.request({"event": "subscribe", "subscription": "open.t"})
    await wait_channels(rds, {PREFIX + "open.t"})


async def test_unsubscribe_unsubscribes_the_channel(redis_daemon, rds):
    c = await Client.connect(redis_daemon.ws_url)
    await c.request({"event": "subscribe", "subscription": "open.t"})
    await wait_channels(rds, {PREFIX + "open.t"})
    await c.request({"event": "unsubscribe", "subscription": "open.t"})
    await wait_channels(rds, set())


async def test_channel_is_kept_until_its_last_subscriber_leaves(redis_daemon, rds):
    a = await Client.connect(redis_daemon.ws_url)
    b = await Client.connect(redis_daemon.ws_url)
    await a.request({"event": "subscribe", "subscription": "open.t"})
    await b.request({"event": "subscribe", "subscription": "open.t"})
    await wait_channels(rds, {PREFIX + "open.t"})
    assert rds.pubsub_numsub(PREFIX + "open.t")[0][1] == 1, "one SUBSCRIBE per channel per process"
    await a.request({"event": "unsubscribe", "subscription": "open.t"})
    await b.ping_pong()
    await asyncio.sleep(0.2)
    await wait_channels(rds, {PREFIX + "open.t"})
    await b.close()
    await wait_channels(rds, set())


async def test_close_unsubscribes_the_channel(redis_daemon, rds):
    c = await Client.connect(redis_daemon.ws_url)
    await c.request({"event": "subscribe", "subscription": "open.t"})
    await wait_channels(rds, {PREFIX + "open.t"})
    await c.close()
    await wait_channels(rds, set())


async def test_failed_before_subscribe_leaves_no_channel(redis_daemon, rds, fake_service):
    fake_service.set("/slow/before_subscribe", error(error="no"))
    c = await Client.connect(redis_daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "slow.t"}) == {
        "event": "subscribe",
        "subscription": "slow.t",
        "status": "error",
        "error": "no",
    }
    await wait_channels(rds, set())


async def test_published_message_is_delivered(redis_daemon, rds):
    c = await Client.connect(redis_daemon.ws_url)
    await c.request({"event": "subscribe", "subscription": "bare.t", "extra": "e"})
    await wait_channels(rds, {PREFIX + "bare.t"})
    publish(rds, "bare.t", {"subscription": "bare.t", "data": {"x": 1}})
    msg = await c.recv_json()
    assert set(msg) == {"event", "subscription", "data", "extra", "received_at", "queue_size", "sent_at"}
    assert {k: msg[k] for k in ("event", "subscription", "data", "extra")} == {
        "event": "message",
        "subscription": "bare.t",
        "data": {"x": 1},
        "extra": "e",
    }


async def test_message_published_while_subscribing_is_delivered_after_the_reply(redis_daemon, rds, fake_service):
    fake_service.set("/slow/before_subscribe", ok(data="hello").delayed(1.0))
    c = await Client.connect(redis_daemon.ws_url)
    await c.send_json({"event": "subscribe", "subscription": "slow.t"})
    await fake_service.wait_for("/slow/before_subscribe")
    await wait_channels(rds, {PREFIX + "slow.t"})
    publish(rds, "slow.t", {"subscription": "slow.t", "data": "early"})
    assert await c.recv_json() == {"event": "subscribe", "subscription": "slow.t", "status": "ok", "data": "hello"}
    msg = await c.recv_json()
    assert set(msg) == {"event", "subscription", "data", "sent_at"}
    assert msg["data"] == "early"


async def test_messages_are_delivered_while_a_callback_is_slow(redis_daemon, rds, fake_service):
    fake_service.set("/slow/on_message", ok(data="reply").delayed(1.5))
    c = await Client.connect(redis_daemon.ws_url)
    await c.request({"event": "subscribe", "subscription": "slow.t"})
    await wait_channels(rds, {PREFIX + "slow.t"})
    await c.send_json({"event": "message", "subscription": "slow.t"})
    await fake_service.wait_for("/slow/on_message")
    publish(rds, "slow.t", {"subscription": "slow.t", "data": "meanwhile"})
    first = await c.recv_json(timeout=1.2)
    assert first["event"] == "message" and first["data"] == "meanwhile" and "status" not in first
    assert await c.recv_json() == {"event": "message", "subscription": "slow.t", "status": "ok", "data": "reply"}


async def start_provisional(c, rds, fake_service, name, **fields):
    """Send a subscribe whose before_subscribe is slow; return once the
    channel is subscribed and before_subscribe is in flight."""
    service = name.split(".", 1)[0]
    await c.send_json({"event": "subscribe", "subscription": name, **fields})
    await fake_service.wait_for(f"/{service}/before_subscribe")
    await wait_channels(rds, {PREFIX + name})


async def test_buffered_messages_pass_the_filters(redis_daemon, rds, fake_service):
    fake_service.set("/picky/before_subscribe", ok().delayed(1.0))
    c = await Client.connect(redis_daemon.ws_url)
    await start_provisional(c, rds, fake_service, "picky.t", extra="mine")
    publish(rds, "picky.t", {"subscription": "picky.t", "extra": "other", "data": "not for me"})
    publish(rds, "picky.t", {"subscription": "picky.t", "extra": "mine", "data": "for me"})
    assert await c.recv_json() == {"event": "subscribe", "subscription": "picky.t", "status": "ok", "extra": "mine"}
    msg = await c.recv_json()
    assert msg["data"] == "for me"
    await c.expect_no_message(0.3)


async def test_subscribe_reply_order_seeds_the_order_filter(redis_daemon, rds, fake_service):
    fake_service.set("/slow/before_subscribe", ok(data="snapshot", options={"order": 5}))
    c = await Client.connect(redis_daemon.ws_url)
    assert await c.request({"event": "subscribe", "subscription": "slow.t"}) == {
        "event": "subscribe",
        "subscription": "slow.t",
        "status": "ok",
        "data": "snapshot",
    }
    publish(rds, "slow.t", {"subscription": "slow.t", "data": "old", "options": {"order": 5}})
    publish(rds, "slow.t", {"subscription": "slow.t", "data": "new", "options": {"order": 6}})
    assert (await c.recv_json())["data"] == "new"


async def test_buffered_messages_older_than_the_subscribe_reply_are_dropped(redis_daemon, rds, fake_service):
    fake_service.set("/slow/before_subscribe", ok(data="snapshot", options={"order": 5}).delayed(1.0))
    c = await Client.connect(redis_daemon.ws_url)
    await start_provisional(c, rds, fake_service, "slow.t")
    publish(rds, "slow.t", {"subscription": "slow.t", "data": "stale", "options": {"order": 4}})
    publish(rds, "slow.t", {"subscription": "slow.t", "data": "fresh", "options": {"order": 7}})
    assert (await c.recv_json())["data"] == "snapshot"
    assert (await c.recv_json())["data"] == "fresh"
    await c.expect_no_message(0.3)


async def test_buffered_messages_are_discarded_when_before_subscribe_fails(redis_daemon, rds, fake_service):
    fake_service.set("/slow/before_subscribe", error(error="no").delayed(1.0))
    c = await Client.connect(redis_daemon.ws_url)
    await start_provisional(c, rds, fake_service, "slow.t")
    publish(rds, "slow.t", {"subscription": "slow.t", "data": "never"})
    assert await c.recv_json() == {"event": "subscribe", "subscription": "slow.t", "status": "error", "error": "no"}
    await c.expect_no_message(0.5)
