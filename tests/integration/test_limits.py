"""Limits of SPEC §7: each refusal with its reply or close code, counted in metrics."""

import asyncio
import json
import re
import socket
import urllib.request

import pytest

from harness import Client, RawWebSocket, free_port, sanitizer_allowance_kib


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def refusals(port: int, reason: str) -> float:
    match = re.search(r'^socketshark_refusals_total\{reason="%s"\} (\S+)$' % re.escape(reason), metrics_text(port), re.M)
    return float(match.group(1)) if match else 0.0


@pytest.fixture
def limits_config(config):
    config["metrics"] = {"prometheus": {"host": "127.0.0.1", "port": free_port()}}
    return config


def admin_port(config) -> int:
    return config["metrics"]["prometheus"]["port"]


async def test_frame_over_max_message_bytes_is_closed_with_1009(limits_config, start_daemon):
    limits_config["limits"] = {"max_message_bytes": 1000}
    daemon = start_daemon(limits_config)
    client = await Client.connect(daemon.ws_url)
    await client.ping_pong()
    await client.send_text(json.dumps({"event": "ping", "data": "x" * 2000}))
    assert await client.expect_closed() == 1009
    assert refusals(admin_port(limits_config), "max_message_bytes") == 1


async def test_frame_under_max_message_bytes_is_handled(limits_config, start_daemon):
    limits_config["limits"] = {"max_message_bytes": 1000}
    daemon = start_daemon(limits_config)
    client = await Client.connect(daemon.ws_url)
    await client.ping_pong("x" * 100)


async def test_subscriptions_over_the_limit_are_refused(limits_config, start_daemon):
    limits_config["limits"] = {"max_subscriptions_per_session": 2}
    daemon = start_daemon(limits_config)
    client = await Client.connect(daemon.ws_url)
    for topic in ("a", "b"):
        assert (await client.request({"event": "subscribe", "subscription": f"open.{topic}"}))["status"] == "ok"
    reply = await client.request({"event": "subscribe", "subscription": "open.c"})
    assert reply == {"event": "subscribe", "status": "error", "error": "Too many subscriptions.", "subscription": "open.c"}
    assert (await client.request({"event": "unsubscribe", "subscription": "open.a"}))["status"] == "ok"
    assert (await client.request({"event": "subscribe", "subscription": "open.c"}))["status"] == "ok"
    assert refusals(admin_port(limits_config), "max_subscriptions_per_session") == 1


async def test_connections_over_max_connections_get_503(limits_config, start_daemon):
    limits_config["limits"] = {"max_connections": 2}
    daemon = start_daemon(limits_config)
    first = await Client.connect(daemon.ws_url)
    second = await Client.connect(daemon.ws_url)
    await first.ping_pong()
    await second.ping_pong()
    with socket.create_connection(("127.0.0.1", daemon.ws_port), timeout=5) as raw:
        raw.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert raw.recv(100).startswith(b"HTTP/1.1 503")
    assert refusals(admin_port(limits_config), "max_connections") == 1
    await second.close()
    for _ in range(50):  # the slot frees once the daemon has cleaned the session up
        try:
            third = await Client.connect(daemon.ws_url)
            await third.ping_pong()
            break
        except Exception:
            await asyncio.sleep(0.1)
    else:
        raise AssertionError("no connection accepted after one closed")


async def test_oldest_session_of_a_user_is_closed_with_4429(limits_config, fake_service, start_daemon):
    limits_config["limits"] = {"max_connections_per_user": {"field": "session_id", "max": 2}}
    daemon = start_daemon(limits_config)
    clients = []
    for _ in range(3):
        client = await Client.connect(daemon.ws_url)
        await client.auth()
        clients.append(client)
    assert await clients[0].expect_closed() == 4429
    await clients[1].ping_pong()
    await clients[2].ping_pong()
    assert refusals(admin_port(limits_config), "max_connections_per_user") == 1


async def test_client_rate_refuses_then_closes_with_4429(limits_config, start_daemon):
    limits_config["limits"] = {"client_rate": {"rate": 0.5, "burst": 3}}
    daemon = start_daemon(limits_config)
    client = await Client.connect(daemon.ws_url)
    for i in range(3):
        assert await client.request({"event": "ping", "data": str(i)}) == {"event": "pong", "data": str(i)}
    for _ in range(3):
        reply = await client.request({"event": "ping", "data": "over"})
        assert reply == {"event": "ping", "status": "error", "error": "Rate limit exceeded."}
    await client.send_json({"event": "ping", "data": "abuse"})
    assert await client.recv_json() == {"event": "ping", "status": "error", "error": "Rate limit exceeded."}
    assert await client.expect_closed() == 4429
    assert refusals(admin_port(limits_config), "client_rate") == 4


async def test_client_that_never_reads_is_closed_with_1008_while_others_keep_receiving(
    limits_config, start_daemon
):
    # The bound must exceed one burst (a publish of 50 x 16 KiB) for a client that does read.
    limits_config["limits"] = {"send_buffer_bytes": 2 * 1024 * 1024}
    limits_config["publish_api"] = {"keys": ["k"]}
    daemon = start_daemon(limits_config)
    port = admin_port(limits_config)

    slow = RawWebSocket(daemon.ws_port)
    slow.send_json({"event": "subscribe", "subscription": "open.firehose"})
    opcode, payload = slow.read_frame()
    assert json.loads(payload)["status"] == "ok"
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and then never read again

    fast = await Client.connect(daemon.ws_url, max_size=None)
    await fast.request({"event": "subscribe", "subscription": "open.firehose"})

    blob = "x" * 16384
    batch = json.dumps([{"subscription": "open.firehose", "data": {"n": i, "blob": blob}} for i in range(50)]).encode()
    received = 0
    for round_ in range(20):  # 1,000 messages of 16 KiB: far beyond the slow client's 2 MiB bound
        request = urllib.request.Request(f"http://127.0.0.1:{port}/publish", data=batch, method="POST")
        request.add_header("Authorization", "Bearer k")
        urllib.request.urlopen(request, timeout=10).read()
        for _ in range(50):
            frame = await fast.recv_json(timeout=10)
            assert frame["data"]["n"] == received % 50
            received += 1
    assert received == 1000
    assert refusals(port, "send_buffer_bytes") == 1
    rss_kib = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{daemon.proc.pid}/status").read()).group(1))
    assert rss_kib < 200 * 1024 + sanitizer_allowance_kib(), f"daemon RSS {rss_kib} KiB: the slow client's queue was not bounded"
    slow.close()
