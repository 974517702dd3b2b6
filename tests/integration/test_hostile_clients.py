"""Hostile and broken clients (issue 10): each one gets the right error reply
or close code, and a well-behaved session on the same daemon (the *witness*)
keeps getting its replies and its messages.

Every wait is bounded; everything runs on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import resource
import socket
import struct
import time
import urllib.error
import urllib.request

import pytest

from harness import (
    registry_gauges,
    ERR_INVALID_EVENT,
    Client,
    RawWebSocket,
    callback_urls,
    free_port,
    ok,
)

PUBLISH_KEY = "hostile-publish-key"
WITNESS_SUB = "open.witness"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def raise_nofile_limit() -> None:
    """Raise RLIMIT_NOFILE to its hard limit (the daemon started afterwards inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@pytest.fixture
def hostile_config(config, fake_service):
    config["metrics"] = {"prometheus": {"host": "127.0.0.1", "port": free_port()}}
    config["publish_api"] = {"keys": [PUBLISH_KEY]}
    config["services"]["slowcb"] = {
        **callback_urls(fake_service, "slowcb", "before_subscribe", "on_subscribe", "before_unsubscribe", "on_unsubscribe"),
        "require_authentication": False,
        "extra_fields": ["extra"],
    }
    return config


# Raw sockets of the running test, closed before the daemon is stopped (an
# unclosed one would hold the daemon's closing handshake for its full timeout).
RAW_SOCKETS: list = []


@pytest.fixture(autouse=True)
def close_raw_sockets(start_daemon):
    yield
    for raw in RAW_SOCKETS:
        raw.close()
    RAW_SOCKETS.clear()


def raw_ws(port: int) -> RawWebSocket:
    raw = RawWebSocket(port)
    RAW_SOCKETS.append(raw)
    return raw


def raw_tcp(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    RAW_SOCKETS.append(sock)
    return sock


def admin_port(config) -> int:
    return config["metrics"]["prometheus"]["port"]


def publish(port: int, message) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/publish", data=json.dumps(message).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {PUBLISH_KEY}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")






async def wait_gauges(port: int, expected: tuple[float, float, float], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        got = await asyncio.to_thread(registry_gauges, port)
        if got == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"(connection_count, subscriptions, channels) = {got} after {timeout} s, expected {expected}"
            )
        await asyncio.sleep(0.1)


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Witness:
    """A well-behaved, authenticated session subscribed to open.witness."""

    def __init__(self, client: Client, admin: int, daemon) -> None:
        self.client = client
        self.admin = admin
        self.daemon = daemon
        self.n = 0

    @classmethod
    async def start(cls, daemon, config) -> "Witness":
        client = await Client.connect(daemon.ws_url)
        await client.auth()
        reply = await client.request({"event": "subscribe", "subscription": WITNESS_SUB})
        assert reply == {"event": "subscribe", "subscription": WITNESS_SUB, "status": "ok"}, reply
        witness = cls(client, admin_port(config), daemon)
        await witness.check()
        return witness

    async def check(self, timeout: float = 5.0) -> None:
        """A reply to an event and a published message both arrive within ``timeout``."""
        try:
            await self._check(timeout)
        except AssertionError as exc:
            await asyncio.sleep(0.3)  # a crashed daemon is reaped meanwhile
            raise AssertionError(f"witness: {exc}; daemon running: {self.daemon.running}") from None

    async def _check(self, timeout: float) -> None:
        self.n += 1
        tag = f"witness-{self.n}"
        reply = await self.client.request({"event": "ping", "data": tag}, timeout=timeout)
        assert reply == {"event": "pong", "data": tag}, reply
        status, answer = await asyncio.to_thread(
            publish, self.admin, {"subscription": WITNESS_SUB, "data": {"n": self.n}}
        )
        assert (status, answer) == (200, {"status": "ok", "published": 1})
        frame = await self.client.recv_json(timeout)
        assert frame["event"] == "message" and frame["subscription"] == WITNESS_SUB, frame
        assert frame["data"] == {"n": self.n}, frame


def frame_bytes(opcode: int, payload: bytes, fin: bool = True, masked: bool = True) -> bytes:
    """One client WebSocket frame, FIN bit as given (False for a fragment)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_next(raw: RawWebSocket, timeout: float = 5.0) -> tuple[int, bytes] | None:
    """The next frame that is not a server ping (answered for it), None on EOF."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no frame within {timeout} s")
        try:
            frame = raw.read_frame(remaining)
        except TimeoutError:
            raise AssertionError(f"no frame within {timeout} s") from None
        if frame is None or frame[0] != OP_PING:
            return frame
        raw.send_frame(OP_PONG, frame[1])


def raw_expect_close(raw: RawWebSocket, timeout: float = 5.0) -> int:
    """Waits for the server's close frame; returns its code (fails on data frames or EOF first)."""
    frame = raw_next(raw, timeout)
    assert frame is not None, "connection dropped without a close frame"
    opcode, payload = frame
    assert opcode == OP_CLOSE, f"expected a close frame, got opcode {opcode}: {payload[:200]!r}"
    assert len(payload) >= 2, f"close frame without a code: {payload!r}"
    return struct.unpack("!H", payload[:2])[0]


def raw_expect_json(raw: RawWebSocket, timeout: float = 5.0):
    frame = raw_next(raw, timeout)
    assert frame is not None, "connection closed while waiting for a reply"
    opcode, payload = frame
    assert opcode == OP_TEXT, f"expected a text frame, got opcode {opcode}: {payload[:200]!r}"
    return json.loads(payload)


def wait_eof(sock: socket.socket, timeout: float) -> float:
    """Reads (discarding) until the peer closes; returns the seconds it took."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"connection still open after {timeout} s")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
        if not chunk:
            return time.monotonic() - start


def read_http_head_or_eof(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """The response head, or b"" when the server closed without answering."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"neither an answer nor a close within {timeout} s: {buf!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return buf
        if not chunk:
            return buf
        buf += chunk
    return buf


# --------------------------------------------------------------------------
# handshakes that never finish
# --------------------------------------------------------------------------


async def test_silent_and_half_handshakes_are_closed_after_handshake_timeout(hostile_config, start_daemon):
    hostile_config["limits"] = {"handshake_timeout": 1}
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)

    silent = raw_tcp(daemon.ws_port)
    half = raw_tcp(daemon.ws_port)
    half.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
    try:
        results = await asyncio.gather(
            asyncio.to_thread(wait_eof, silent, 6.0),
            asyncio.to_thread(wait_eof, half, 6.0),
            witness.check(),  # served while the two hang
        )
    finally:
        silent.close()
        half.close()
    for elapsed in results[:2]:
        assert 0.8 <= elapsed <= 3.0, f"closed after {elapsed:.2f} s, handshake_timeout is 1 s"
    await witness.check()


async def test_trickled_handshake_is_closed_after_handshake_timeout(hostile_config, start_daemon):
    """Slowloris: one header byte every 0.1 s never extends the deadline."""
    hostile_config["limits"] = {"handshake_timeout": 1}
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    sock = raw_tcp(daemon.ws_port)

    def trickle() -> float:
        start = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\n")
        while time.monotonic() - start < 6:
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - start
            sock.settimeout(0.1)
            try:
                if sock.recv(4096) == b"":
                    return time.monotonic() - start
            except socket.timeout:
                pass
            except ConnectionResetError:
                return time.monotonic() - start
        raise AssertionError("trickling client still connected after 6 s")

    try:
        elapsed, _ = await asyncio.gather(asyncio.to_thread(trickle), witness.check())
    finally:
        sock.close()
    assert 0.8 <= elapsed <= 3.0, f"closed after {elapsed:.2f} s"
    await witness.check()


# --------------------------------------------------------------------------
# idle unauthenticated connections
# --------------------------------------------------------------------------


async def test_unauthenticated_session_is_closed_with_4401_after_auth_timeout(hostile_config, start_daemon):
    hostile_config["limits"] = {"auth_timeout": 1}
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)  # authenticated: stays
    started = time.monotonic()
    idle = await Client.connect(daemon.ws_url)
    chatty = await Client.connect(daemon.ws_url)
    await chatty.ping_pong()  # events without auth do not count as authentication
    late = await Client.connect(daemon.ws_url)
    await late.auth()  # authenticated in time: stays

    assert await idle.expect_closed(timeout=5) == 4401
    assert await chatty.expect_closed(timeout=5) == 4401
    elapsed = time.monotonic() - started
    assert 0.8 <= elapsed <= 4.0, elapsed
    await asyncio.sleep(1.0)
    await late.ping_pong()
    await witness.check()


async def test_unauthenticated_session_stays_without_auth_timeout(hostile_config, start_daemon):
    hostile_config["limits"] = {"auth_timeout": 0}
    daemon = start_daemon(hostile_config)
    idle = await Client.connect(daemon.ws_url)
    await idle.expect_no_message(within=2.5)
    await idle.ping_pong()
    reply = await idle.request({"event": "subscribe", "subscription": "open.anonymous"})
    assert reply == {"event": "subscribe", "subscription": "open.anonymous", "status": "ok"}


# --------------------------------------------------------------------------
# oversized headers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["one_big_header", "many_headers", "endless_header"])
async def test_oversized_request_header_is_refused(shape, hostile_config, start_daemon):
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    key = base64.b64encode(os.urandom(16)).decode()
    head = (
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    ).encode()
    if shape == "one_big_header":
        request = head + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n"
    elif shape == "many_headers":
        request = head + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 20) for i in range(600)) + b"\r\n"
    else:  # 4 MiB of one header line, never finished
        request = head + b"X-Endless: " + b"z" * (4 * 1024 * 1024)
    assert len(request) > 8 * 1024

    def attempt() -> bytes:
        sock = raw_tcp(daemon.ws_port)
        try:
            try:
                sock.sendall(request)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed while we were still sending: a refusal too
            return read_http_head_or_eof(sock, timeout=5)
        finally:
            sock.close()

    answer = await asyncio.to_thread(attempt)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b" 101 " not in answer.split(b"\r\n", 1)[0]
    await witness.check()
    assert daemon.running


# --------------------------------------------------------------------------
# oversized, fragmented, invalid frames
# --------------------------------------------------------------------------


async def test_oversized_frame_is_closed_with_1009(hostile_config, start_daemon):
    hostile_config["limits"] = {"max_message_bytes": 1000}
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    big = raw_ws(daemon.ws_port)
    big.send_json({"event": "ping", "data": "y" * 2000})
    assert await asyncio.to_thread(raw_expect_close, big) == 1009
    big.close()

    # A header announcing 2^40 bytes and no payload at all: refused from the header.
    liar = raw_ws(daemon.ws_port)
    liar.sock.sendall(bytes([0x80 | OP_TEXT, 0x80 | 127]) + struct.pack("!Q", 1 << 40) + os.urandom(4))
    assert await asyncio.to_thread(raw_expect_close, liar) == 1009
    liar.close()
    await witness.check()


async def test_fragmented_message_is_reassembled_and_handled(hostile_config, start_daemon):
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    raw = raw_ws(daemon.ws_port)
    text = json.dumps({"event": "ping", "data": "fragmented €"}, ensure_ascii=False).encode()
    cut = text.index("€".encode()) + 1  # split inside the multi-byte character
    parts = [text[:10], text[10:cut], text[cut:]]
    raw.sock.sendall(frame_bytes(OP_TEXT, parts[0], fin=False))
    raw.sock.sendall(frame_bytes(OP_PING, b"between"))  # a control frame between fragments is allowed
    raw.sock.sendall(frame_bytes(OP_CONT, parts[1], fin=False))
    raw.sock.sendall(frame_bytes(OP_CONT, parts[2], fin=True))
    pong = await asyncio.to_thread(raw_next, raw)
    assert pong == (OP_PONG, b"between")
    assert await asyncio.to_thread(raw_expect_json, raw) == {"event": "pong", "data": "fragmented €"}

    # A binary message in fragments, one byte each, is JSON too.
    binary = json.dumps({"event": "subscribe", "subscription": "open.fragments"}).encode()
    raw.sock.sendall(frame_bytes(OP_BINARY, binary[:1], fin=False))
    for i in range(1, len(binary) - 1):
        raw.sock.sendall(frame_bytes(OP_CONT, binary[i : i + 1], fin=False))
    raw.sock.sendall(frame_bytes(OP_CONT, binary[-1:], fin=True))
    assert await asyncio.to_thread(raw_expect_json, raw) == {
        "event": "subscribe",
        "subscription": "open.fragments",
        "status": "ok",
    }
    raw.close()
    await witness.check()


async def test_oversized_fragmented_message_is_closed_with_1009(hostile_config, start_daemon):
    hostile_config["limits"] = {"max_message_bytes": 1000}
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    raw = raw_ws(daemon.ws_port)
    raw.sock.sendall(frame_bytes(OP_TEXT, b'{"event":"ping","data":"' + b"f" * 376, fin=False))
    raw.sock.sendall(frame_bytes(OP_CONT, b"f" * 400, fin=False))
    try:
        raw.sock.sendall(frame_bytes(OP_CONT, b"f" * 400 + b'"}', fin=True))
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert await asyncio.to_thread(raw_expect_close, raw) == 1009
    raw.close()
    await witness.check()


PROTOCOL_VIOLATIONS = {
    "unmasked_frame": frame_bytes(OP_TEXT, b'{"event":"ping"}', masked=False),
    "reserved_opcode": frame_bytes(0x3, b"x"),
    "reserved_bits": bytes([0xF0 | OP_TEXT]) + frame_bytes(OP_TEXT, b"x")[1:],
    "control_frame_over_125_bytes": frame_bytes(OP_PING, b"p" * 200),
    "fragmented_control_frame": frame_bytes(OP_PING, b"p", fin=False),
    "continuation_without_start": frame_bytes(OP_CONT, b"x"),
    "new_message_inside_a_fragmented_one": frame_bytes(OP_TEXT, b"[", fin=False) + frame_bytes(OP_TEXT, b"]"),
    "close_with_invalid_code": frame_bytes(OP_CLOSE, struct.pack("!H", 999)),
    "close_with_one_byte": frame_bytes(OP_CLOSE, b"\x03"),
}


@pytest.mark.parametrize("violation", sorted(PROTOCOL_VIOLATIONS))
async def test_websocket_protocol_violation_is_closed_with_1002(violation, hostile_config, start_daemon):
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    raw = raw_ws(daemon.ws_port)
    raw.sock.sendall(PROTOCOL_VIOLATIONS[violation])
    assert await asyncio.to_thread(raw_expect_close, raw) == 1002
    await witness.check()


async def test_random_bytes_after_the_upgrade_close_only_that_connection(hostile_config, start_daemon):
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    rng = random.Random(4242)
    raws = [raw_ws(daemon.ws_port) for _ in range(30)]
    for raw in raws:
        try:
            raw.sock.sendall(rng.randbytes(rng.choice([1, 2, 7, 100, 4096, 65536])))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def drain(raw: RawWebSocket) -> None:
        # Garbage may read as a frame header announcing a long payload: then
        # the connection waits for it (up to max_message_bytes). Either it is
        # closed, or it is still open and the daemon is fine.
        try:
            while True:
                frame = raw.read_frame(2.0)
                if frame is None or frame[0] == OP_CLOSE:
                    return
        except (TimeoutError, OSError):
            return

    await asyncio.gather(*(asyncio.to_thread(drain, raw) for raw in raws))
    await witness.check()
    assert daemon.running


async def test_invalid_utf8_in_a_text_frame_is_closed_with_1007(hostile_config, start_daemon):
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    whole = raw_ws(daemon.ws_port)
    whole.send_frame(OP_TEXT, b'{"event":"ping","data":"\xc3\x28"}')
    assert await asyncio.to_thread(raw_expect_close, whole) == 1007
    whole.close()

    split = raw_ws(daemon.ws_port)  # a truncated sequence at the end of a fragmented message
    split.sock.sendall(frame_bytes(OP_TEXT, b'{"event":"ping","data":"\xe2\x82', fin=False))
    split.sock.sendall(frame_bytes(OP_CONT, b'"}', fin=True))
    assert await asyncio.to_thread(raw_expect_close, split) == 1007
    split.close()

    surrogate = raw_ws(daemon.ws_port)  # CESU-8 surrogate: not UTF-8
    surrogate.send_frame(OP_TEXT, b'{"event":"ping","data":"\xed\xa0\x80"}')
    assert await asyncio.to_thread(raw_expect_close, surrogate) == 1007
    surrogate.close()
    await witness.check()


async def test_binary_frames_carrying_json_are_handled(hostile_config, start_daemon):
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    client = await Client.connect(daemon.ws_url)
    await client.send_bytes(json.dumps({"event": "ping", "data": "binary"}).encode())
    assert await client.recv_json() == {"event": "pong", "data": "binary"}
    await client.send_bytes(json.dumps({"event": "subscribe", "subscription": "open.bin"}).encode())
    assert await client.recv_json() == {"event": "subscribe", "subscription": "open.bin", "status": "ok"}
    # Binary is not checked as UTF-8 by WebSocket, but it is not JSON either.
    await client.send_bytes(b'{"event":"ping","data":"\xff"}')
    assert await client.recv_json() == {"status": "error", "error": ERR_INVALID_EVENT}
    await client.ping_pong()
    await witness.check()


@pytest.mark.parametrize(
    "frame",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"event":"ping","data":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"event":"ping","data":' + b"[" * 300 + b"]" * 300 + b"}",
    ],
    ids=["open_arrays", "closed_arrays", "objects", "deep_ping_data", "depth_300"],
)
async def test_deeply_nested_json_is_refused_as_invalid(frame, hostile_config, start_daemon):
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    client = await Client.connect(daemon.ws_url)
    await client.send_text(frame.decode())
    assert await client.recv_json() == {"status": "error", "error": ERR_INVALID_EVENT}
    # Moderate nesting is ordinary JSON.
    moderate = {"event": "ping", "data": json.loads("[" * 100 + "]" * 100)}
    assert await client.request(moderate) == {"event": "pong", "data": None}
    await client.ping_pong()
    await witness.check()
    assert daemon.running


# --------------------------------------------------------------------------
# floods
# --------------------------------------------------------------------------


async def test_pipelined_subscribe_unsubscribe_flood_is_answered_in_order(hostile_config, start_daemon):
    daemon = start_daemon(hostile_config)
    admin = admin_port(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    flood = await Client.connect(daemon.ws_url, max_queue=None)
    pairs = 3000
    distinct = 500

    async def send_all() -> None:
        for i in range(pairs):
            await flood.send_json({"event": "subscribe", "subscription": f"open.flood{i % 7}"})
            await flood.send_json({"event": "unsubscribe", "subscription": f"open.flood{i % 7}"})
        for i in range(distinct):  # then many live subscriptions at once
            await flood.send_json({"event": "subscribe", "subscription": f"open.many{i}"})
        await flood.send_json({"event": "ping", "data": "end of flood"})

    async def receive_all() -> None:
        for i in range(pairs):
            for event in ("subscribe", "unsubscribe"):
                reply = await flood.recv_json(timeout=10)
                assert reply == {"event": event, "subscription": f"open.flood{i % 7}", "status": "ok"}, (i, reply)
        for i in range(distinct):
            reply = await flood.recv_json(timeout=10)
            assert reply == {"event": "subscribe", "subscription": f"open.many{i}", "status": "ok"}, (i, reply)
        assert await flood.recv_json(timeout=10) == {"event": "pong", "data": "end of flood"}

    async def witness_meanwhile() -> None:
        for _ in range(5):
            started = time.monotonic()
            await witness.check(timeout=5)
            assert time.monotonic() - started < 3.0
            await asyncio.sleep(0.05)

    await asyncio.gather(send_all(), receive_all(), witness_meanwhile())
    await wait_gauges(admin, (2, 1 + distinct, 1 + distinct))
    await flood.close()
    await wait_gauges(admin, (1, 1, 1))
    await witness.check()


async def test_pipelined_flood_from_a_client_that_reads_late_is_answered_in_order(hostile_config, start_daemon):
    """Thousands of events sent while the client reads nothing: the replies
    pile up in the daemon's write queue, then drain in order once it reads."""
    daemon = start_daemon(hostile_config)
    witness = await Witness.start(daemon, hostile_config)
    raw = raw_ws(daemon.ws_port)
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    pairs = 2000
    burst = b"".join(
        frame_bytes(OP_TEXT, json.dumps({"event": event, "subscription": f"open.late{i % 5}"}).encode())
        for i in range(pairs)
        for event in ("subscribe", "unsubscribe")
    )
    raw.sock.sendall(burst + frame_bytes(OP_TEXT, b'{"event":"ping","data":"last"}'))
    await witness.check()  # served while the late reader's replies pile up
    await asyncio.sleep(0.5)

    def read_all() -> None:
        for i in range(pairs):
            for event in ("subscribe", "unsubscribe"):
                reply = raw_expect_json(raw, timeout=10)
                assert reply == {"event": event, "subscription": f"open.late{i % 5}", "status": "ok"}, (i, reply)
        assert raw_expect_json(raw, timeout=10) == {"event": "pong", "data": "last"}

    try:
        await asyncio.to_thread(read_all)
    except AssertionError as exc:
        await asyncio.sleep(0.3)
        raise AssertionError(f"{exc}; daemon running: {daemon.running}") from None
    await witness.check()


# --------------------------------------------------------------------------
# thousands of connections dropped mid-callback
# --------------------------------------------------------------------------


async def open_subscribe_and_drop(port: int, tag: str, drop_after: float, gate: asyncio.Semaphore) -> bool:
    """Upgrade by hand, send one subscribe, wait, then drop the TCP connection
    without a close frame. Returns whether the subscribe was sent."""
    async with gate:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(
                (
                    f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert b" 101 " in head.split(b"\r\n", 1)[0], head
            event = {"event": "subscribe", "subscription": "slowcb.room", "extra": tag}
            writer.write(frame_bytes(OP_TEXT, json.dumps(event).encode()))
            await writer.drain()
        except BaseException:
            writer.transport.abort()
            raise
    await asyncio.sleep(drop_after)
    writer.transport.abort()  # no close frame, RST
    return True


async def test_thousands_of_connections_dropped_mid_callback_leak_nothing(hostile_config, fake_service, start_daemon):
    raise_nofile_limit()  # before the daemon starts: it inherits the limit
    fake_service.set("/slowcb/before_subscribe", ok().delayed(0.5))
    daemon = start_daemon(hostile_config)
    admin = admin_port(hostile_config)
    pid = daemon.proc.pid
    witness = await Witness.start(daemon, hostile_config)
    gate = asyncio.Semaphore(400)
    rng = random.Random(10)

    # Warm-up: the callback keep-alive pool fills; then the descriptor baseline.
    await asyncio.gather(*(open_subscribe_and_drop(daemon.ws_port, f"w{i}", 0.7, gate) for i in range(100)))
    await wait_gauges(admin, (1, 1, 1), timeout=20)
    await asyncio.sleep(0.5)
    fd_baseline = fd_count(pid)

    n = 2000
    storm = asyncio.gather(
        *(open_subscribe_and_drop(daemon.ws_port, f"c{i}", rng.uniform(0.0, 0.9), gate) for i in range(n))
    )
    await asyncio.sleep(1.0)
    started = time.monotonic()
    await witness.check(timeout=10)  # served in the middle of the storm
    assert time.monotonic() - started < 5.0
    assert all(await storm)

    await wait_gauges(admin, (1, 1, 1), timeout=30)

    def extras(path: str) -> list[str]:
        return [b["extra"] for b in fake_service.bodies(path) if b and b.get("extra", "").startswith("c")]

    # Callbacks: let the last on_unsubscribe calls land, then compare.
    deadline = time.monotonic() + 10
    while True:
        before_sub = extras("/slowcb/before_subscribe")
        on_sub = extras("/slowcb/on_subscribe")
        before_unsub = extras("/slowcb/before_unsubscribe")
        on_unsub = extras("/slowcb/on_unsubscribe")
        if set(on_sub) <= set(on_unsub) and set(before_unsub) == set(on_unsub):
            break
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    for name, calls in (("before_subscribe", before_sub), ("on_subscribe", on_sub),
                        ("before_unsubscribe", before_unsub), ("on_unsubscribe", on_unsub)):
        assert len(calls) == len(set(calls)), f"{name} called twice for one subscription"
    assert set(on_sub) <= set(on_unsub), (
        f"{len(set(on_sub) - set(on_unsub))} live subscriptions were never unsubscribed, "
        f"e.g. {sorted(set(on_sub) - set(on_unsub))[:5]}"
    )
    assert set(before_unsub) == set(on_unsub)
    assert set(on_unsub) <= set(before_sub)
    assert len(before_sub) >= n // 2, f"only {len(before_sub)} of {n} subscribes reached the service"

    await asyncio.sleep(1.0)  # sockets the daemon closed leave /proc
    fds = fd_count(pid)
    # The callback client keeps at most 64 idle keep-alive connections per host.
    assert fds <= fd_baseline + 70, f"{fds} descriptors open, baseline {fd_baseline}"
    await witness.check()
    await witness.client.close()
    await wait_gauges(admin, (0, 0, 0))
