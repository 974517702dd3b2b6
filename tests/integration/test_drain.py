"""Graceful drain on SIGTERM (SPEC §4, §7): readiness false and the listener
closed at once, sessions closed with 1001 spread over drain_seconds, close
callbacks run, exit 0; a second signal closes the rest at once."""

import asyncio
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest

from harness import Client, free_port


def readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def close_time(client: Client) -> tuple[int, float]:
    code = await client.expect_closed(timeout=15)
    return code, time.monotonic()


@pytest.fixture
def drain_config(config):
    config["metrics"] = {"prometheus": {"host": "127.0.0.1", "port": free_port()}}
    return config


async def subscribed_clients(daemon, n: int) -> list[Client]:
    clients = []
    for i in range(n):
        client = await Client.connect(daemon.ws_url)
        await client.auth()
        reply = await client.request({"event": "subscribe", "subscription": f"full.room{i}"})
        assert reply["status"] == "ok", reply
        clients.append(client)
    return clients


async def test_sigterm_without_drain_closes_everyone_at_once_with_1001(drain_config, fake_service, start_daemon):
    daemon = start_daemon(drain_config)
    clients = await subscribed_clients(daemon, 3)
    assert readyz(drain_config["metrics"]["prometheus"]["port"]) == 200
    daemon.send_signal(signal.SIGTERM)
    results = await asyncio.gather(*(close_time(c) for c in clients))
    assert [code for code, _ in results] == [1001, 1001, 1001]
    assert daemon.wait(10) == 0
    # Close callbacks ran for every subscription.
    assert sorted(b["subscription"] for b in fake_service.bodies("/full/on_unsubscribe")) == [
        "full.room0", "full.room1", "full.room2"]
    assert len(fake_service.bodies("/full/before_unsubscribe")) == 3


async def test_drain_spreads_closes_over_drain_seconds(drain_config, fake_service, start_daemon):
    drain_config["shutdown"] = {"drain_seconds": 2}
    daemon = start_daemon(drain_config)
    clients = await subscribed_clients(daemon, 4)
    admin = drain_config["metrics"]["prometheus"]["port"]
    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    waiters = [asyncio.ensure_future(close_time(c)) for c in clients]
    await asyncio.sleep(0.2)
    assert readyz(admin) == 503  # readiness false at once
    with pytest.raises(OSError):  # listener closed at once
        socket.create_connection(("127.0.0.1", daemon.ws_port), timeout=1).close()
    results = await asyncio.gather(*waiters)
    assert all(code == 1001 for code, _ in results)
    times = sorted(t - started for _, t in results)
    assert times[0] < 1.0, times  # the first goes at once
    assert times[-1] >= 1.0, times  # the last not before half the period
    assert times[-1] < 6.0, times  # and all within the period (generous)
    assert daemon.wait(10) == 0
    assert len(fake_service.bodies("/full/on_unsubscribe")) == 4


async def test_second_signal_closes_the_rest_at_once(drain_config, start_daemon):
    drain_config["shutdown"] = {"drain_seconds": 60}
    daemon = start_daemon(drain_config)
    clients = await subscribed_clients(daemon, 3)
    daemon.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.5)
    started = time.monotonic()
    daemon.send_signal(signal.SIGINT)
    results = await asyncio.gather(*(close_time(c) for c in clients))
    assert all(code == 1001 for code, _ in results)
    assert max(t for _, t in results) - started < 5
    assert daemon.wait(10) == 0
