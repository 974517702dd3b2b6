"""Payload fidelity and many concurrent sessions (SPEC §1-§2 under load)."""

import asyncio
import json

from harness import SESSION_ID, Client, ok

S = "full.topic"


async def subscribed_client(daemon, fake_service=None, extra="e"):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    reply = await c.request({"event": "subscribe", "subscription": S, "extra": extra})
    assert reply == {"event": "subscribe", "subscription": S, "status": "ok", "extra": extra}
    return c


async def test_unicode_data_round_trips_through_callbacks(daemon, fake_service):
    text = "héllo € 😀 \u0000 \n \" \\ \u2028 \ud7ff"
    fake_service.set("/full/on_message", ok(data={"echo": text}))
    c = await subscribed_client(daemon)
    assert await c.request({"event": "message", "subscription": S, "data": text}) == {
        "event": "message",
        "subscription": S,
        "status": "ok",
        "data": {"echo": text},
        "extra": "e",
    }
    assert fake_service.bodies("/full/on_message")[0]["data"] == text


async def test_numbers_round_trip_through_callbacks(daemon, fake_service):
    numbers = [0, -1, 2**53 + 1, 2**63 - 1, -(2**63), 0.1, -2.5e-300, 1.5e300, 123456789.125]
    fake_service.set("/full/on_message", ok(data=numbers))
    c = await subscribed_client(daemon)
    await c.send_json({"event": "message", "subscription": S, "data": numbers})
    raw = await asyncio.wait_for(c.ws.recv(), 5)
    assert json.loads(raw)["data"] == numbers
    (req,) = fake_service.requests("/full/on_message")
    assert req.json["data"] == numbers
    assert [type(n) for n in req.json["data"]] == [type(n) for n in numbers]


async def test_large_message_data_round_trips(daemon, fake_service):
    big = "x" * 300_000
    fake_service.set("/full/on_message", ok(data={"size": len(big), "back": big}))
    c = await subscribed_client(daemon)
    reply = await c.request({"event": "message", "subscription": S, "data": big})
    assert reply["data"] == {"size": len(big), "back": big}
    assert fake_service.bodies("/full/on_message")[0]["data"] == big


async def test_many_concurrent_sessions_each_get_their_own_replies(daemon, fake_service):
    fake_service.set("/full/on_message", ok(data="ack").delayed(0.05))
    n = 30

    async def session(i):
        c = await subscribed_client(daemon, extra=f"client-{i}")
        for j in range(3):
            reply = await c.request({"event": "message", "subscription": S, "data": [i, j]})
            assert reply == {
                "event": "message",
                "subscription": S,
                "status": "ok",
                "data": "ack",
                "extra": f"client-{i}",
            }
        await c.close()

    await asyncio.gather(*(session(i) for i in range(n)))
    bodies = fake_service.bodies("/full/on_message")
    assert len(bodies) == 3 * n
    for body in bodies:
        i, _ = body["data"]
        assert body == {"subscription": S, "extra": f"client-{i}", "session_id": SESSION_ID, "data": body["data"]}
    await fake_service.wait_for("/full/on_unsubscribe", n, timeout=10)
