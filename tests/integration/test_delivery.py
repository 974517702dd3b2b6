"""Delivery through Redis (SPEC §3, §4): frames and timestamps, the message's
own subscription, filter fields, order, throttle, buffering while
provisional, channel reference counting, redis_alt, Redis restarts, and no
leak after many subscribe/unsubscribe cycles."""

import asyncio
import datetime
import json
import re
import time
import urllib.request

import pytest

from harness import Client, RedisServer, callback_urls, free_port, ok

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")


@pytest.fixture
def delivery_config(config, redis_server, fake_service):
    config["broker"] = "redis"
    config["redis"] = {"host": "127.0.0.1", "port": redis_server.port}
    config["metrics"] = {"prometheus": {"host": "127.0.0.1", "port": free_port()}}
    config["authentication"]["ticket"]["auth_fields"] = ["session_id", "user_id"]
    fake_service.set("/auth/ticket", ok(session_id="s1", user_id=7))
    config["services"]["filtered"] = {
        "require_authentication": False,
        "extra_fields": ["org"],
        "filter_fields": ["user_id", "org", "team"],
    }
    config["services"]["slow"] = {
        **callback_urls(fake_service, "slow", "before_subscribe"),
        "require_authentication": False,
        "extra_fields": ["org"],
    }
    return config


def publish(rds, channel: str, message, prefix: str = "") -> None:
    rds.publish(prefix + channel, message if isinstance(message, str) else json.dumps(message))


async def subscribe(client: Client, name: str, **extra) -> None:
    reply = await client.request({"event": "subscribe", "subscription": name, **extra})
    assert reply["status"] == "ok", reply


def metric(config, name: str) -> float:
    port = config["metrics"]["prometheus"]["port"]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    match = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(match.group(1)) if match else 0.0


async def test_frame_carries_data_extra_and_timestamps(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await subscribe(client, "filtered.room", org=3)
    publish(rds, "filtered.room", {"subscription": "filtered.room", "data": {"x": [1, "é"]},
                                   "published_at": "2026-01-02T03:04:05.5Z"})
    frame = await client.recv_json()
    assert list(frame) == ["event", "subscription", "data", "published_at", "received_at", "queue_size", "org", "sent_at"]
    assert frame["event"] == "message" and frame["subscription"] == "filtered.room"
    assert frame["data"] == {"x": [1, "é"]} and frame["org"] == 3
    assert frame["published_at"] == "2026-01-02T03:04:05.500000+00:00"
    assert ISO_UTC.match(frame["received_at"]) and ISO_UTC.match(frame["sent_at"])
    assert frame["queue_size"] == 0
    received = datetime.datetime.fromisoformat(frame["received_at"])
    assert abs((datetime.datetime.now(datetime.timezone.utc) - received).total_seconds()) < 10


async def test_invalid_published_at_is_dropped_and_the_message_delivered(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await subscribe(client, "open.room")
    publish(rds, "open.room", {"subscription": "open.room", "data": 1, "published_at": "yesterday"})
    frame = await client.recv_json()
    assert frame["data"] == 1 and "published_at" not in frame
    assert "invalid published_at" in daemon.log_text()


async def test_offsets_in_published_at_are_kept(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await subscribe(client, "open.room")
    publish(rds, "open.room", {"subscription": "open.room", "data": 1, "published_at": "2026-01-02T03:04:05+02:00"})
    assert (await client.recv_json())["published_at"] == "2026-01-02T03:04:05+02:00"


async def test_many_sessions_each_receive_once(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    clients = [await Client.connect(daemon.ws_url) for _ in range(40)]
    for client in clients:
        await subscribe(client, "open.crowd")
    for n in range(3):
        publish(rds, "open.crowd", {"subscription": "open.crowd", "data": n})
    for client in clients:
        assert [(await client.recv_json())["data"] for _ in range(3)] == [0, 1, 2]
        await client.expect_no_message(0.05)


async def test_invalid_messages_are_dropped_with_a_warning(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await subscribe(client, "open.room")
    publish(rds, "open.room", "not json")
    publish(rds, "open.room", {"data": 1})
    publish(rds, "open.room", {"subscription": "open.room"})
    publish(rds, "open.room", "[1, 2]")
    publish(rds, "open.room", {"subscription": "open.room", "data": "valid"})
    assert (await client.recv_json())["data"] == "valid"
    await client.expect_no_message(0.2)
    assert metric(delivery_config, 'socketshark_broker_messages_total{result="invalid"}') == 4
    assert daemon.log_text().count('"level":"warning"') >= 4


async def test_the_message_subscription_selects_the_receiving_subscription(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    both = await Client.connect(daemon.ws_url)
    await subscribe(both, "open.a")
    await subscribe(both, "open.b")
    only_a = await Client.connect(daemon.ws_url)
    await subscribe(only_a, "open.a")
    publish(rds, "open.a", {"subscription": "open.b", "data": "via a"})
    frame = await both.recv_json()
    assert frame["subscription"] == "open.b" and frame["data"] == "via a"
    await only_a.expect_no_message(0.3)


@pytest.mark.parametrize(
    "fields, delivered",
    [
        ({}, True),                          # no filter field in the message
        ({"user_id": 7}, True),              # matches auth info
        ({"user_id": 8}, False),             # does not match auth info
        ({"org": 3}, True),                  # extra field matches
        ({"org": 4}, False),                 # extra field mismatch
        ({"org": "3"}, False),               # JSON equality: "3" != 3
        ({"team": None}, True),              # missing value counts as null
        ({"team": 1}, False),                # missing value is not 1
        ({"user_id": 7, "org": 4}, False),   # any mismatch drops
        ({"user_id": 7.0, "org": 3}, True),  # 7.0 == 7 as in Python
    ],
)
async def test_filter_fields(fields, delivered, delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await client.auth()
    await subscribe(client, "filtered.room", org=3)
    publish(rds, "filtered.room", {"subscription": "filtered.room", "data": "m", **fields})
    publish(rds, "filtered.room", {"subscription": "filtered.room", "data": "sentinel"})
    first = await client.recv_json()
    if delivered:
        assert first["data"] == "m"
        assert (await client.recv_json())["data"] == "sentinel"
    else:
        assert first["data"] == "sentinel"


async def test_order_per_key_and_invalid_values(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await subscribe(client, "open.room")
    sequence = [
        ("a1", {"order": 1}),
        ("a0", {"order": 0.5}),                    # older than 1: dropped
        ("k2", {"order": 2, "order_key": "k"}),    # another key starts fresh
        ("k1", {"order": 1, "order_key": "k"}),    # dropped
        ("a1dup", {"order": "1"}),                 # equal to the highest: dropped
        ("a3", {"order": " 3 "}),                  # numeric string
        ("null", {"order": None}),                 # not a number: no order
        ("obj", {"order": {}}),                    # idem
        ("word", {"order": "abc"}),                # idem
        ("bool", {"order": True}),                 # 1 <= 3: dropped
        ("inf", {"order": "inf"}),
        ("big", {"order": 1e300}),                 # < inf: dropped
    ]
    for data, options in sequence:
        publish(rds, "open.room", {"subscription": "open.room", "data": data, "options": options})
    publish(rds, "open.room", {"subscription": "open.room", "data": "end"})
    got = [(await client.recv_json())["data"] for _ in range(7)]
    assert got == ["a1", "k2", "a3", "null", "obj", "word", "inf"]
    assert (await client.recv_json())["data"] == "end"


async def test_before_subscribe_answer_seeds_the_order(delivery_config, fake_service, rds, start_daemon):
    fake_service.set("/slow/before_subscribe", ok(data={"snapshot": 1}, options={"order": 5}))
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    reply = await client.request({"event": "subscribe", "subscription": "slow.room"})
    assert reply == {"event": "subscribe", "status": "ok", "data": {"snapshot": 1}, "subscription": "slow.room"}
    publish(rds, "slow.room", {"subscription": "slow.room", "data": "old", "options": {"order": 4}})
    publish(rds, "slow.room", {"subscription": "slow.room", "data": "new", "options": {"order": 6}})
    assert (await client.recv_json())["data"] == "new"


async def test_throttle_sends_first_at_once_and_latest_at_period_end(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await subscribe(client, "open.room")
    started = time.monotonic()
    for n in range(3):
        publish(rds, "open.room", {"subscription": "open.room", "data": n, "options": {"throttle": 0.6},
                                   "published_at": "2026-01-01T00:00:00Z"})
    first = await client.recv_json()
    assert first["data"] == 0 and "received_at" in first
    first_at = time.monotonic() - started
    held = await client.recv_json(timeout=5)
    held_at = time.monotonic() - started
    assert held["data"] == 2  # the latest replaced the pending one
    assert "received_at" not in held and "queue_size" not in held and "published_at" not in held
    assert "sent_at" in held
    assert held_at - first_at > 0.3, (first_at, held_at)
    await client.expect_no_message(1.0)


async def test_throttle_keys_are_independent(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await subscribe(client, "open.room")
    for key in ("x", "y"):
        publish(rds, "open.room", {"subscription": "open.room", "data": key,
                                   "options": {"throttle": 5, "throttle_key": key}})
    assert sorted([(await client.recv_json())["data"] for _ in range(2)]) == ["x", "y"]


async def test_throttle_timer_is_cancelled_by_unsubscribe(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await subscribe(client, "open.room")
    for n in range(2):
        publish(rds, "open.room", {"subscription": "open.room", "data": n, "options": {"throttle": 0.5}})
    assert (await client.recv_json())["data"] == 0
    reply = await client.request({"event": "unsubscribe", "subscription": "open.room"})
    assert reply["status"] == "ok"
    await client.expect_no_message(1.0)


async def test_messages_during_before_subscribe_are_buffered(delivery_config, fake_service, rds, start_daemon):
    fake_service.set("/slow/before_subscribe", ok(data="hello").delayed(0.5))
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await client.send_json({"event": "subscribe", "subscription": "slow.room", "org": 1})
    await fake_service.wait_for("/slow/before_subscribe")
    publish(rds, "slow.room", {"subscription": "slow.room", "data": "early", "published_at": "2026-01-01T00:00:00Z"})
    reply = await client.recv_json()
    assert reply == {"event": "subscribe", "status": "ok", "org": 1, "data": "hello", "subscription": "slow.room"}
    buffered = await client.recv_json()
    assert buffered["data"] == "early" and buffered["org"] == 1
    assert buffered["published_at"] == "2026-01-01T00:00:00+00:00"
    assert "received_at" not in buffered and "queue_size" not in buffered and "sent_at" in buffered


async def test_channels_are_reference_counted(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)

    async def numsub() -> int:
        await asyncio.sleep(0.1)
        return dict(rds.pubsub_numsub("open.shared"))[b"open.shared"]

    a = await Client.connect(daemon.ws_url)
    b = await Client.connect(daemon.ws_url)
    await subscribe(a, "open.shared")
    await subscribe(b, "open.shared")
    assert await numsub() == 1
    await a.request({"event": "unsubscribe", "subscription": "open.shared"})
    assert await numsub() == 1
    await b.close()
    for _ in range(50):
        if await numsub() == 0:
            break
    assert await numsub() == 0


async def test_redis_alt_subscribes_both_and_delivers_from_either(delivery_config, redis_server, tmp_path, start_daemon):
    alt = RedisServer(tmp_path / "alt").start()
    try:
        delivery_config["redis"]["channel_prefix"] = "new:"
        delivery_config["redis_alt"] = {"host": "127.0.0.1", "port": alt.port, "channel_prefix": "old:"}
        daemon = start_daemon(delivery_config)
        client = await Client.connect(daemon.ws_url)
        await subscribe(client, "open.room")
        main_client = redis_server.client()
        alt_client = alt.client()
        assert dict(main_client.pubsub_numsub("new:open.room"))[b"new:open.room"] == 1
        assert dict(alt_client.pubsub_numsub("old:open.room"))[b"old:open.room"] == 1
        publish(main_client, "open.room", {"subscription": "open.room", "data": "main"}, prefix="new:")
        publish(alt_client, "open.room", {"subscription": "open.room", "data": "alt"}, prefix="old:")
        assert sorted([(await client.recv_json())["data"] for _ in range(2)]) == ["alt", "main"]
    finally:
        alt.stop()


async def test_redis_restart_closes_sessions_with_1012_and_recovers(
    delivery_config, redis_server, fake_service, start_daemon
):
    delivery_config["redis"].update(ping_interval=0.2, ping_timeout=0.5)
    delivery_config["services"]["tracked"] = {
        **callback_urls(fake_service, "tracked", "before_unsubscribe", "on_unsubscribe"),
        "require_authentication": False,
    }
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    await subscribe(client, "tracked.room")
    redis_server.stop()
    assert await client.expect_closed(timeout=10) == 1012
    await fake_service.wait_for("/tracked/on_unsubscribe")
    assert fake_service.count("/tracked/before_unsubscribe") == 1
    redis_server.start()
    for _ in range(100):  # reconnects with backoff
        if metric(delivery_config, "socketshark_service_state") == 1:
            break
        await asyncio.sleep(0.1)
    again = await Client.connect(daemon.ws_url)
    await subscribe(again, "tracked.room")
    rds = redis_server.client()
    publish(rds, "tracked.room", {"subscription": "tracked.room", "data": "back"})
    assert (await again.recv_json())["data"] == "back"
    rds.close()


async def test_ten_thousand_subscribe_cycles_leave_nothing_behind(delivery_config, rds, start_daemon):
    daemon = start_daemon(delivery_config)
    client = await Client.connect(daemon.ws_url)
    for batch in range(100):
        names = [f"open.t{batch % 7}-{i}" for i in range(100)]
        for name in names:
            await client.send_json({"event": "subscribe", "subscription": name})
            await client.send_json({"event": "unsubscribe", "subscription": name})
        for _ in range(200):
            assert (await client.recv_json())["status"] == "ok"
    # Leave some subscribed with pending throttle timers, then close.
    for n in range(5):
        await subscribe(client, f"open.left{n}")
    for n in range(5):
        for m in range(2):
            publish(rds, f"open.left{n}", {"subscription": f"open.left{n}", "data": m, "options": {"throttle": 30}})
    for _ in range(5):
        await client.recv_json()
    await client.close()
    for _ in range(50):
        if metric(delivery_config, "socketshark_connection_count") == 0:
            break
        await asyncio.sleep(0.1)
    assert metric(delivery_config, "socketshark_connection_count") == 0
    assert metric(delivery_config, "socketshark_subscriptions") == 0
    assert metric(delivery_config, "socketshark_channels") == 0
    assert [c for c in rds.pubsub_channels() if b"." in c] == []
