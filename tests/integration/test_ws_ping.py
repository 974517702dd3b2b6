"""SPEC §4 ws_ping: server pings, ping timeout, and pongs to client pings.

These tests use RawWebSocket, which never answers a ping by itself."""

import asyncio
import json
import struct
import time

import pytest

from harness import SESSION_ID, Client, RawWebSocket


def ping_config(config, interval, timeout):
    config["ws_ping"] = {"interval": interval, "timeout": timeout}
    return config


def next_frame_of(raw, opcodes, timeout):
    """Read frames until one with an opcode in ``opcodes``; None on EOF."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no frame with opcode in {opcodes} within {timeout} s")
        try:
            frame = raw.read_frame(timeout=remaining)
        except TimeoutError:
            raise AssertionError(f"no frame with opcode in {opcodes} within {timeout} s") from None
        if frame is None or frame[0] in opcodes:
            return frame


def test_server_sends_pings_at_the_interval(config, start_daemon):
    daemon = start_daemon(ping_config(config, 0.2, 2))
    raw = RawWebSocket(daemon.ws_port)
    try:
        for _ in range(3):
            frame = next_frame_of(raw, {RawWebSocket.OP_PING}, timeout=3)
            assert frame is not None, "connection closed instead of a ping"
            raw.send_frame(RawWebSocket.OP_PONG, frame[1])
    finally:
        raw.close()


def test_client_answering_pings_stays_connected(config, start_daemon):
    daemon = start_daemon(ping_config(config, 0.2, 0.3))
    raw = RawWebSocket(daemon.ws_port)
    try:
        until = time.monotonic() + 1.5
        pings = 0
        while time.monotonic() < until:
            try:
                frame = raw.read_frame(timeout=max(0.01, until - time.monotonic()))
            except TimeoutError:
                break
            assert frame is not None, "connection closed although every ping was answered"
            assert frame[0] != RawWebSocket.OP_CLOSE, f"closed: {frame!r}"
            if frame[0] == RawWebSocket.OP_PING:
                pings += 1
                raw.send_frame(RawWebSocket.OP_PONG, frame[1])
        assert pings >= 2
        raw.send_json({"event": "ping", "data": "alive"})
        while True:
            frame = next_frame_of(raw, {RawWebSocket.OP_TEXT, RawWebSocket.OP_PING}, timeout=3)
            assert frame is not None
            if frame[0] == RawWebSocket.OP_PING:
                raw.send_frame(RawWebSocket.OP_PONG, frame[1])
                continue
            assert json.loads(frame[1]) == {"event": "pong", "data": "alive"}
            break
    finally:
        raw.close()


def test_unanswered_ping_closes_the_connection_with_4408(config, start_daemon):
    daemon = start_daemon(ping_config(config, 0.2, 0.3))
    raw = RawWebSocket(daemon.ws_port)
    try:
        first = next_frame_of(raw, {RawWebSocket.OP_PING}, timeout=3)
        assert first is not None
        frame = next_frame_of(raw, {RawWebSocket.OP_CLOSE}, timeout=5)
        if frame is not None:  # a close frame (else: dropped, also acceptable)
            code = struct.unpack("!H", frame[1][:2])[0] if len(frame[1]) >= 2 else None
            assert code == 4408, f"close code {code}, expected 4408"
    finally:
        raw.close()


def test_ping_timeout_cleans_up_subscriptions(config, start_daemon, fake_service):
    daemon = start_daemon(ping_config(config, 0.2, 0.3))
    raw = RawWebSocket(daemon.ws_port)
    try:
        raw.send_json({"event": "auth", "ticket": "t"})
        raw.send_json({"event": "subscribe", "subscription": "full.a"})
        # Generous: the daemon may wait a while for the dead peer's close frame.
        (on,) = fake_service.wait_for_sync("/full/on_unsubscribe", timeout=25)
        assert on.json == {"subscription": "full.a", "session_id": SESSION_ID}
        assert fake_service.count("/full/before_unsubscribe") == 1
    finally:
        raw.close()


@pytest.mark.parametrize("interval", [0, None])
def test_interval_zero_or_null_disables_pings(config, start_daemon, interval):
    daemon = start_daemon(ping_config(config, interval, 0.3))
    raw = RawWebSocket(daemon.ws_port)
    try:
        with pytest.raises(TimeoutError):
            raw.read_frame(timeout=1.0)
        raw.send_json({"event": "ping", "data": "x"})
        frame = raw.read_frame(timeout=3)
        assert frame is not None and frame[0] == RawWebSocket.OP_TEXT
        assert json.loads(frame[1]) == {"event": "pong", "data": "x"}
    finally:
        raw.close()


def test_client_ping_frame_gets_a_pong_with_the_same_payload(config, start_daemon):
    daemon = start_daemon(ping_config(config, 0, 1))
    raw = RawWebSocket(daemon.ws_port)
    try:
        raw.send_frame(RawWebSocket.OP_PING, b"hello")
        frame = next_frame_of(raw, {RawWebSocket.OP_PONG}, timeout=3)
        assert frame == (RawWebSocket.OP_PONG, b"hello")
    finally:
        raw.close()


async def test_websockets_client_ping_is_answered(daemon):
    c = await Client.connect(daemon.ws_url)
    waiter = await c.ws.ping(b"abc")
    await asyncio.wait_for(waiter, 5)  # raises on timeout
    await c.ping_pong()
