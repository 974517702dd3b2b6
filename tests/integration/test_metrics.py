"""Prometheus metrics (SPEC §6) after a scripted session, and readiness."""

import asyncio
import urllib.error
import urllib.request

import pytest

from harness import Client, free_port, ok, scrape_metrics




def status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def metrics_config(config):
    config["metrics"] = {"prometheus": {"host": "127.0.0.1", "port": free_port()}}
    config["publish_api"] = {"keys": ["k"]}
    return config


async def test_counters_and_labels_after_a_scripted_session(metrics_config, fake_service, start_daemon):
    daemon = start_daemon(metrics_config)
    port = metrics_config["metrics"]["prometheus"]["port"]
    client = await Client.connect(daemon.ws_url)
    await client.auth()
    await client.request({"event": "subscribe", "subscription": "full.room", "extra": 1})
    await client.request({"event": "subscribe", "subscription": "full.room", "extra": 1})  # already subscribed
    await client.request({"event": "nope"})
    await client.request({"event": 5})
    await client.send_text("not json")
    await client.recv_json()
    await client.ping_pong()
    other = await Client.connect(daemon.ws_url)
    await other.ping_pong()

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/publish",
        data=b'[{"subscription":"full.room","data":1},{"subscription":"full.room","data":2,"options":{"order":0}},'
        b'{"subscription":"full.room","data":3,"options":{"order":0}}]',
        method="POST",
    )
    request.add_header("Authorization", "Bearer k")
    urllib.request.urlopen(request, timeout=5).read()
    assert (await client.recv_json())["data"] == 1
    assert (await client.recv_json())["data"] == 2
    await client.ping_pong("after")  # the third was dropped by order

    m = scrape_metrics(port)
    assert m["socketshark_service_state"] == 1
    assert m["socketshark_connection_count"] == 2
    assert m["socketshark_connection_total"] == 2
    assert m['socketshark_event_success_counter{event="auth",status="success"}'] == 1
    assert m['socketshark_event_success_counter{event="subscribe",status="success"}'] == 1
    assert m['socketshark_event_success_counter{event="subscribe",status="error"}'] == 1
    assert m['socketshark_event_success_counter{event="unknown",status="error"}'] == 1
    assert m['socketshark_event_success_counter{event="invalid",status="error"}'] == 1
    assert m['socketshark_event_success_counter{event="ping",status="success"}'] == 3
    # A frame that is not JSON is answered but, as in SocketShark, not counted.
    assert sum(v for k, v in m.items() if k.startswith("socketshark_event_success_counter")) == 8
    assert m['socketshark_broker_messages_total{result="received"}'] == 3
    assert m["socketshark_messages_delivered_total"] == 2
    assert m['socketshark_messages_filtered_total{reason="order"}'] == 1
    assert m['socketshark_callback_requests_total{callback="auth",outcome="ok"}'] == 1
    assert m['socketshark_callback_requests_total{callback="authorizer",outcome="ok"}'] == 1
    assert m['socketshark_callback_requests_total{callback="before_subscribe",outcome="ok"}'] == 1
    assert m['socketshark_callback_duration_seconds_count{callback="authorizer"}'] == 1
    assert m["socketshark_client_bytes_queued_total"] > 0

    await other.close()
    for _ in range(50):
        m = scrape_metrics(port)
        if m["socketshark_connection_count"] == 1:
            break
        await asyncio.sleep(0.1)
    assert m["socketshark_connection_count"] == 1
    assert m['socketshark_sessions_closed_total{reason="client"}'] == 1


async def test_callback_failures_are_counted_by_outcome(metrics_config, fake_service, start_daemon):
    fake_service.set("/full/authorizer", ok())
    fake_service.queue("/full/before_subscribe", ok(), )
    daemon = start_daemon(metrics_config)
    port = metrics_config["metrics"]["prometheus"]["port"]
    fake_service.set("/full/authorizer", ok(status="error", error="Nope."))
    client = await Client.connect(daemon.ws_url)
    await client.auth()
    reply = await client.request({"event": "subscribe", "subscription": "full.room"})
    assert reply["error"] == "Nope."
    assert scrape_metrics(port)['socketshark_callback_requests_total{callback="authorizer",outcome="error"}'] == 1


async def test_healthz_and_readyz_on_both_ports(metrics_config, start_daemon):
    daemon = start_daemon(metrics_config)
    admin = metrics_config["metrics"]["prometheus"]["port"]
    for port in (admin, daemon.ws_port):
        assert status(port, "/healthz") == 200
        assert status(port, "/readyz") == 200


async def test_readyz_follows_redis(metrics_config, redis_server, start_daemon):
    metrics_config["broker"] = "redis"
    metrics_config["redis"] = {"host": "127.0.0.1", "port": redis_server.port, "ping_interval": 0.2, "ping_timeout": 0.5}
    daemon = start_daemon(metrics_config)
    admin = metrics_config["metrics"]["prometheus"]["port"]

    async def wait_status(expected: int, timeout: float = 15) -> None:
        for _ in range(int(timeout / 0.1)):
            if status(admin, "/readyz") == expected and status(daemon.ws_port, "/readyz") == expected:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"/readyz never became {expected}")

    await wait_status(200)
    assert scrape_metrics(admin)["socketshark_service_state"] == 1
    redis_server.stop()
    await wait_status(503)
    assert scrape_metrics(admin)["socketshark_service_state"] == 0
    assert status(admin, "/healthz") == 200  # the process is still up
    redis_server.start()
    await wait_status(200)
    assert scrape_metrics(admin)["socketshark_broker_reconnects_total"] >= 1
