"""SPEC §1 connection close: every live subscription is removed with
before_unsubscribe (errors ignored) then on_unsubscribe."""

import asyncio

from harness import SESSION_ID, Client, RawWebSocket, error, ok


def body(name, extra=None):
    b = {"subscription": name, "session_id": SESSION_ID}
    if extra is not None:
        b["extra"] = extra
    return b


async def test_close_unsubscribes_every_live_subscription(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    for name, extra in (("full.a", "ea"), ("full.b", "eb")):
        assert (await c.request({"event": "subscribe", "subscription": name, "extra": extra}))["status"] == "ok"
    await fake_service.wait_for("/full/on_subscribe", 2)
    await c.close()
    ons = await fake_service.wait_for("/full/on_unsubscribe", 2)
    befores = fake_service.requests("/full/before_unsubscribe")
    by_name = lambda b: b["subscription"]  # noqa: E731 - the close order is unspecified
    expected = [body("full.a", "ea"), body("full.b", "eb")]
    assert sorted((r.json for r in befores), key=by_name) == expected
    assert sorted((r.json for r in ons), key=by_name) == expected
    for name in ("full.a", "full.b"):
        (before,) = [r for r in befores if r.json["subscription"] == name]
        (on,) = [r for r in ons if r.json["subscription"] == name]
        assert before.at <= on.at, f"{name}: on_unsubscribe came before before_unsubscribe"


async def test_close_calls_on_unsubscribe_even_when_before_unsubscribe_refuses(daemon, fake_service):
    fake_service.set("/full/before_unsubscribe", error(error="refused"))
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.request({"event": "subscribe", "subscription": "full.a"})
    await fake_service.wait_for("/full/on_subscribe")
    await c.close()
    (on,) = await fake_service.wait_for("/full/on_unsubscribe")
    assert on.json == body("full.a")
    assert fake_service.count("/full/before_unsubscribe") == 1


async def test_close_skips_subscriptions_already_unsubscribed(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.request({"event": "subscribe", "subscription": "full.a"})
    await c.request({"event": "subscribe", "subscription": "full.b"})
    await c.request({"event": "unsubscribe", "subscription": "full.a"})
    await fake_service.wait_for("/full/on_unsubscribe", 1)
    await c.close()
    await fake_service.wait_for("/full/on_unsubscribe", 2)
    befores = [r.json["subscription"] for r in fake_service.requests("/full/before_unsubscribe")]
    ons = [r.json["subscription"] for r in fake_service.requests("/full/on_unsubscribe")]
    assert befores == ["full.a", "full.b"]
    assert ons == ["full.a", "full.b"]


async def test_close_does_not_unsubscribe_refused_subscriptions(daemon, fake_service):
    fake_service.set("/full/authorizer", error())
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.request({"event": "subscribe", "subscription": "full.a"})
    await c.close()
    # Give the daemon time to run any (wrong) cleanup callbacks, then check none came.
    await asyncio.sleep(0.5)
    assert fake_service.count("/full/before_unsubscribe") == 0
    assert fake_service.count("/full/on_unsubscribe") == 0


async def test_close_while_before_subscribe_is_in_flight_still_unsubscribes(daemon, fake_service):
    fake_service.set("/full/before_subscribe", ok().delayed(1.0))
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.send_json({"event": "subscribe", "subscription": "full.a", "extra": "e"})
    await fake_service.wait_for("/full/before_subscribe")
    await c.close()
    (on,) = await fake_service.wait_for("/full/on_unsubscribe")
    (before,) = fake_service.requests("/full/before_unsubscribe")
    assert before.json == body("full.a", "e")
    assert on.json == body("full.a", "e")
    assert before.at <= on.at


async def test_dropped_tcp_connection_unsubscribes_live_subscriptions(daemon, fake_service):
    raw = RawWebSocket(daemon.ws_port)
    raw.send_json({"event": "auth", "ticket": "t"})
    raw.send_json({"event": "subscribe", "subscription": "full.a"})
    await fake_service.wait_for("/full/on_subscribe")
    raw.close()  # no close frame
    (on,) = await fake_service.wait_for("/full/on_unsubscribe")
    assert on.json == body("full.a")
    assert fake_service.bodies("/full/before_unsubscribe") == [body("full.a")]


async def test_close_of_one_connection_leaves_others_subscribed(daemon, fake_service):
    fake_service.set("/full/on_message", ok(data="still here"))
    a = await Client.connect(daemon.ws_url)
    b = await Client.connect(daemon.ws_url)
    for c in (a, b):
        await c.auth()
        await c.request({"event": "subscribe", "subscription": "full.a"})
    await a.close()
    await fake_service.wait_for("/full/on_unsubscribe")
    assert await b.request({"event": "message", "subscription": "full.a"}) == {
        "event": "message",
        "subscription": "full.a",
        "status": "ok",
        "data": "still here",
    }


async def test_close_while_on_message_is_in_flight_still_unsubscribes(daemon, fake_service):
    fake_service.set("/full/on_message", ok(data="late").delayed(1.0))
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.request({"event": "subscribe", "subscription": "full.a"})
    await c.send_json({"event": "message", "subscription": "full.a"})
    await fake_service.wait_for("/full/on_message")
    await c.close()
    (on,) = await fake_service.wait_for("/full/on_unsubscribe")
    assert on.json == body("full.a")
    assert fake_service.bodies("/full/before_unsubscribe") == [body("full.a")]


async def test_close_with_many_subscriptions_unsubscribes_them_all(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    names = [f"full.t{i}" for i in range(50)]
    for name in names:
        await c.send_json({"event": "subscribe", "subscription": name})
    for name in names:
        assert await c.recv_json() == {"event": "subscribe", "subscription": name, "status": "ok"}
    await c.close()
    ons = await fake_service.wait_for("/full/on_unsubscribe", len(names), timeout=10)
    assert sorted(r.json["subscription"] for r in ons) == sorted(names)
