"""The HTTP publish API (SPEC §7): bearer keys, bodies, status codes, and
fan-out through the broker to every daemon on the same Redis."""

import json
import urllib.error
import urllib.request

import pytest

from harness import Client, free_port

KEY = "publish-key-1"


def post(port: int, body, key: str | None = KEY, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/publish", data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def api_config(config):
    config["publish_api"] = {"keys": ["other-key", KEY], "max_body_bytes": 4096}
    config["metrics"] = {"prometheus": {"host": "127.0.0.1", "port": free_port()}}
    return config


def admin_port(config) -> int:
    return config["metrics"]["prometheus"]["port"]


async def test_published_message_reaches_subscribers(api_config, start_daemon):
    daemon = start_daemon(api_config)
    client = await Client.connect(daemon.ws_url)
    assert (await client.request({"event": "subscribe", "subscription": "open.room"}))["status"] == "ok"
    status, answer = post(admin_port(api_config), {"subscription": "open.room", "data": {"n": 1}})
    assert (status, answer) == (200, {"status": "ok", "published": 1})
    frame = await client.recv_json()
    assert frame["event"] == "message" and frame["subscription"] == "open.room" and frame["data"] == {"n": 1}


async def test_array_of_messages_is_published_in_order(api_config, start_daemon):
    daemon = start_daemon(api_config)
    client = await Client.connect(daemon.ws_url)
    await client.request({"event": "subscribe", "subscription": "open.room"})
    messages = [{"subscription": "open.room", "data": i} for i in range(5)]
    assert post(admin_port(api_config), messages) == (200, {"status": "ok", "published": 5})
    assert [(await client.recv_json())["data"] for _ in range(5)] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("key", [None, "wrong", "publish-key-", "publish-key-11"])
async def test_missing_or_wrong_key_is_401(key, api_config, start_daemon):
    daemon = start_daemon(api_config)
    client = await Client.connect(daemon.ws_url)
    await client.request({"event": "subscribe", "subscription": "open.room"})
    status, answer = post(admin_port(api_config), {"subscription": "open.room", "data": 1}, key=key)
    assert status == 401 and answer["status"] == "error"
    await client.expect_no_message(0.3)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'{"data": 1}',
        b'{"subscription": "open.room"}',
        b'[{"subscription": "open.room", "data": 1}, 5]',
        b"[]",
        b'{"subscription": "", "data": 1}',
    ],
)
async def test_malformed_body_is_400_and_publishes_nothing(raw, api_config, start_daemon):
    daemon = start_daemon(api_config)
    client = await Client.connect(daemon.ws_url)
    await client.request({"event": "subscribe", "subscription": "open.room"})
    status, answer = post(admin_port(api_config), None, raw=raw)
    assert status == 400 and answer["status"] == "error" and answer["error"]
    await client.expect_no_message(0.3)


async def test_body_over_the_limit_is_413(api_config, start_daemon):
    start_daemon(api_config)
    status, answer = post(admin_port(api_config), {"subscription": "open.room", "data": "x" * 5000})
    assert status == 413 and answer["status"] == "error"


async def test_fan_out_across_two_daemons_sharing_redis(api_config, redis_server, start_daemon):
    api_config["broker"] = "redis"
    api_config["redis"] = {"host": "127.0.0.1", "port": redis_server.port}
    first = start_daemon(api_config, name="first")
    second_config = dict(api_config, ws_port=free_port(), metrics={"prometheus": {"host": "127.0.0.1", "port": free_port()}})
    second = start_daemon(second_config, name="second")
    a = await Client.connect(first.ws_url)
    b = await Client.connect(second.ws_url)
    for client in (a, b):
        assert (await client.request({"event": "subscribe", "subscription": "open.room"}))["status"] == "ok"
    assert post(admin_port(second_config), {"subscription": "open.room", "data": "hello"})[0] == 200
    for client in (a, b):
        frame = await client.recv_json()
        assert frame["data"] == "hello"
        await client.expect_no_message(0.3)  # exactly once each
