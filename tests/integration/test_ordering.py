"""SPEC §1: events of one connection are handled strictly one after another."""

import time

from harness import Client, ok

S = "full.topic"


async def subscribed_client(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    assert (await c.request({"event": "subscribe", "subscription": S}))["status"] == "ok"
    await fake_service.wait_for("/full/on_subscribe")
    return c


async def test_slow_callback_delays_the_next_event_of_the_same_connection(daemon, fake_service):
    fake_service.set("/full/on_message", ok(data="done").delayed(1.0))
    c = await subscribed_client(daemon, fake_service)
    start = time.monotonic()
    await c.send_json({"event": "message", "subscription": S, "data": 1})
    await c.send_json({"event": "ping", "data": "after"})
    first = await c.recv_json()
    second = await c.recv_json()
    elapsed = time.monotonic() - start
    assert first == {"event": "message", "subscription": S, "status": "ok", "data": "done"}
    assert second == {"event": "pong", "data": "after"}
    assert elapsed >= 0.9


async def test_slow_callback_does_not_delay_another_connection(daemon, fake_service):
    fake_service.set("/full/on_message", ok(data="done").delayed(2.0))
    slow = await subscribed_client(daemon, fake_service)
    other = await Client.connect(daemon.ws_url)
    await slow.send_json({"event": "message", "subscription": S, "data": 1})
    await fake_service.wait_for("/full/on_message")
    start = time.monotonic()
    await other.ping_pong("fast")
    assert time.monotonic() - start < 1.0
    assert await slow.recv_json() == {"event": "message", "subscription": S, "status": "ok", "data": "done"}


async def test_next_event_waits_for_on_subscribe(daemon, fake_service):
    fake_service.set("/full/on_subscribe", ok().delayed(1.0))
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.send_json({"event": "subscribe", "subscription": S})
    await c.send_json({"event": "ping", "data": "after"})
    assert (await c.recv_json())["status"] == "ok"
    (on_subscribe,) = await fake_service.wait_for("/full/on_subscribe")
    assert await c.recv_json() == {"event": "pong", "data": "after"}
    assert on_subscribe.answered_at is not None
    assert time.monotonic() >= on_subscribe.answered_at


async def test_next_event_waits_for_on_unsubscribe(daemon, fake_service):
    fake_service.set("/full/on_unsubscribe", ok().delayed(1.0))
    c = await subscribed_client(daemon, fake_service)
    start = time.monotonic()
    await c.send_json({"event": "unsubscribe", "subscription": S})
    await c.send_json({"event": "ping", "data": "after"})
    assert (await c.recv_json())["status"] == "ok"
    assert await c.recv_json() == {"event": "pong", "data": "after"}
    assert time.monotonic() - start >= 0.9


async def test_pipelined_events_are_answered_in_order(daemon, fake_service):
    fake_service.queue(
        "/full/on_message",
        ok(data="m1").delayed(0.3),
        ok(data="m2"),
        ok(data="m3").delayed(0.2),
    )
    c = await subscribed_client(daemon, fake_service)
    frames = [
        {"event": "message", "subscription": S, "data": 1},
        {"event": "ping", "data": "p1"},
        {"event": "message", "subscription": S, "data": 2},
        {"event": "nope"},
        {"event": "message", "subscription": S, "data": 3},
        {"event": "ping", "data": "p2"},
    ]
    for f in frames:
        await c.send_json(f)
    replies = [await c.recv_json() for _ in frames]
    assert replies == [
        {"event": "message", "subscription": S, "status": "ok", "data": "m1"},
        {"event": "pong", "data": "p1"},
        {"event": "message", "subscription": S, "status": "ok", "data": "m2"},
        {"event": "nope", "status": "error", "error": "Event not found."},
        {"event": "message", "subscription": S, "status": "ok", "data": "m3"},
        {"event": "pong", "data": "p2"},
    ]
    assert [b["data"] for b in fake_service.bodies("/full/on_message")] == [1, 2, 3]


async def test_callbacks_of_one_connection_never_overlap(daemon, fake_service):
    fake_service.set("/full/on_message", ok(data="x").delayed(0.2))
    c = await subscribed_client(daemon, fake_service)
    for i in range(3):
        await c.send_json({"event": "message", "subscription": S, "data": i})
    for _ in range(3):
        await c.recv_json()
    reqs = fake_service.requests("/full/on_message")
    assert len(reqs) == 3
    for earlier, later in zip(reqs, reqs[1:]):
        assert later.at >= earlier.answered_at
