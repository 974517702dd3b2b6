"""Test harness for the socketshark integration tests.

Everything here talks to real processes over real sockets:

* ``free_port``            a free TCP port on 127.0.0.1;
* ``RedisServer``          a throw-away ``redis-server`` (no persistence);
* ``FakeService``          an aiohttp server in a background thread that
                           records every callback and answers from a script;
* ``Daemon``               the socketshark binary started from a config dict;
* ``Client``               a WebSocket client (``websockets``) with JSON helpers;
* ``RawWebSocket``         a minimal hand-written WebSocket client that never
                           answers pings on its own (for the ws_ping tests).

Only Debian's system Python packages are used (see CMakeLists.txt).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
import websockets
import websockets.client
import websockets.exceptions

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent

# Error texts of SPEC §1, byte-exact.
ERR_INVALID_EVENT = "Messages must be JSON and contain an event field."
ERR_UNHANDLED = "Unhandled exception."
ERR_EVENT_NOT_FOUND = "Event not found."
ERR_SERVICE_UNAVAILABLE = "Service unavailable."
ERR_AUTH_UNSUPPORTED = "Authentication method unsupported."
ERR_UNAUTHORIZED = "Unauthorized."
ERR_NEEDS_TICKET = "Must specify ticket."
ERR_AUTH_FAILED = "Authentication failed."
ERR_AUTH_REQUIRED = "Authentication required."
ERR_BAD_SUBSCRIPTION = "Invalid subscription format."
ERR_BAD_SERVICE = "Invalid service."
ERR_ALREADY_SUBSCRIBED = "Already subscribed."
ERR_NOT_SUBSCRIBED = "Subscription does not exist."


# --------------------------------------------------------------------------
# Ports and processes
# --------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll a TCP connect to 127.0.0.1:port until it succeeds (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")
            time.sleep(0.02)


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
    """Send ``sig`` to the process we started (by PID), wait bounded, then SIGKILL.

    Returns the exit code, or None when it had to be killed.
    """
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
        return None


class RedisServer:
    """A real redis-server on a free loopback port, no persistence."""

    BINARY = "/usr/bin/redis-server"

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.log_path = workdir / "redis.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                self.BINARY,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(self.workdir),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, 10, self.proc)
        return self

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGTERM, timeout=10)
            self.proc = None
        self._log.close()


@dataclass
class Certificate:
    """A self-signed certificate for 127.0.0.1 (cert.pem is its own CA)."""

    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.cert))
        return ctx


def make_certificate(directory: Path) -> Certificate:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return Certificate(cert, key)


# --------------------------------------------------------------------------
# Fake service (HTTP callbacks)
# --------------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted HTTP answer of the fake service."""

    json: Any = None  # JSON body (ignored when ``body`` is set)
    status: int = 200
    body: bytes | str | None = None  # raw body instead of JSON
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering

    def delayed(self, seconds: float) -> "Reply":
        """The same answer, sent after ``seconds``."""
        return dataclasses.replace(self, delay=seconds)


def ok(**fields: Any) -> Reply:
    """An answer {"status": "ok", **fields}."""
    return Reply(json={"status": "ok", **fields})


def error(**fields: Any) -> Reply:
    """An answer {"status": "error", **fields}."""
    return Reply(json={"status": "error", **fields})


def http_status(status: int, headers: dict[str, str] | None = None, **kw: Any) -> Reply:
    """A bare HTTP status with a JSON error body."""
    return Reply(json={"status": "error", "error": f"HTTP {status}"}, status=status, headers=headers or {}, **kw)


@dataclass
class Recorded:
    """One request received by the fake service."""

    method: str
    path: str
    query: str  # raw query string, "" when none
    headers: dict[str, str]
    raw: bytes
    json: Any  # parsed body, or None when it is not JSON
    at: float  # time.monotonic() on arrival
    peer_port: int
    answered_at: float | None = None


class FakeService:
    """An aiohttp server on 127.0.0.1 in a background thread.

    Every request is recorded. The answer for a path is, in order: the next
    queued reply for that path (``queue``), else the path's reply (``set``),
    else ``{"status": "ok"}``.
    """

    def __init__(self, tls: "Certificate | None" = None, keepalive_timeout: float = 75.0) -> None:
        self.tls = tls
        self.keepalive_timeout = keepalive_timeout
        self.port = 0
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._queued: dict[str, list[Reply]] = {}
        self._replies: dict[str, Reply] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-service", daemon=True)
        self._runner: web.AppRunner | None = None

    # -- lifecycle --------------------------------------------------------

    def start(self) -> "FakeService":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, keepalive_timeout=self.keepalive_timeout
        )
        await self._runner.setup()
        ssl_context = None
        if self.tls is not None:
            ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_context.load_cert_chain(str(self.tls.cert), str(self.tls.key))
        site = web.TCPSite(self._runner, "127.0.0.1", 0, shutdown_timeout=0.5, ssl_context=ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._runner is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            try:
                fut.result(10)
            except Exception:
                pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- scripting --------------------------------------------------------

    def url(self, path: str) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def set(self, path: str, reply: Reply) -> None:
        """Answer every request for ``path`` with ``reply`` (after any queued ones)."""
        with self._lock:
            self._replies[path] = reply

    def queue(self, path: str, *replies: Reply) -> None:
        """Answer the next requests for ``path`` with ``replies``, in order."""
        with self._lock:
            self._queued.setdefault(path, []).extend(replies)

    # -- inspection -------------------------------------------------------

    def requests(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def bodies(self, path: str) -> list[Any]:
        return [r.json for r in self.requests(path)]

    def count(self, path: str) -> int:
        return len(self.requests(path))

    async def wait_for(self, path: str, n: int = 1, timeout: float = 5.0) -> list[Recorded]:
        """Wait (bounded) until at least ``n`` requests for ``path`` arrived."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.requests(path)
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {n} request(s) for {path} within {timeout} s, got {len(got)}; "
                    f"all requests: {self.summary()}"
                )
            await asyncio.sleep(0.01)

    def wait_for_sync(self, path: str, n: int = 1, timeout: float = 5.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.requests(path)
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {n} request(s) for {path} within {timeout} s, got {len(got)}; "
                    f"all requests: {self.summary()}"
                )
            time.sleep(0.01)

    def summary(self) -> str:
        return "; ".join(f"{r.method} {r.path} {r.raw[:200]!r}" for r in self.requests()) or "(none)"

    # -- server side ------------------------------------------------------

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            queued = self._queued.get(path)
            if queued:
                return queued.pop(0)
            return self._replies.get(path, ok())

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        peer = request.transport.get_extra_info("peername") if request.transport else None
        rec = Recorded(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers={k: v for k, v in request.headers.items()},
            raw=raw,
            json=parsed,
            at=time.monotonic(),
            peer_port=peer[1] if peer else -1,
        )
        with self._lock:
            self._requests.append(rec)
        reply = self._next_reply(request.path)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.body is not None:
            body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        else:
            body = json.dumps(reply.json).encode()
        headers = {"Content-Type": reply.content_type, **reply.headers}
        rec.answered_at = time.monotonic()
        return web.Response(status=reply.status, body=body, headers=headers)


# --------------------------------------------------------------------------
# The daemon
# --------------------------------------------------------------------------


def daemon_binary() -> Path:
    env = os.environ.get("SOCKETSHARK_BINARY")
    path = Path(env) if env else REPO_ROOT / "build" / "socketshark"
    if not path.is_file():
        raise RuntimeError(
            f"socketshark binary not found at {path}; build it or set SOCKETSHARK_BINARY"
        )
    return path


@functools.lru_cache(maxsize=None)
def sanitized_binary() -> bool:
    """True for a -DSOCKETSHARK_SANITIZE=ON build (`cmake --preset asan`): it links libasan."""
    result = subprocess.run(["ldd", str(daemon_binary())], capture_output=True, text=True, timeout=30)
    return "libasan" in result.stdout


def sanitizer_allowance_kib() -> int:
    """What a sanitized daemon's RSS holds beyond ours: ASan keeps freed memory
    in a quarantine of up to 256 MiB (its default on 64-bit Linux). Memory
    bounds in tests add this so that they still catch unbounded growth."""
    return 256 * 1024 if sanitized_binary() else 0


def daemon_env(extra: dict | None = None) -> dict:
    """The daemon's environment: ours minus SOCKETSHARK_* (SOCKETSHARK_BINARY
    would otherwise read as a config override), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKETSHARK_")}
    env.update(extra or {})
    return env


class Daemon:
    """The socketshark process started from a config dict."""

    def __init__(self, config: dict, workdir: Path, name: str = "socketshark", env: dict | None = None) -> None:
        self.config = config
        self.env = env or {}
        self.workdir = workdir
        self.config_path = workdir / f"{name}.yaml"
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.exit_code: int | None = None

    @property
    def ws_port(self) -> int:
        return int(self.env.get("SOCKETSHARK_WS_PORT", self.config["ws_port"]))

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/"

    def start(self, ready_timeout: float = 10.0) -> "Daemon":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(daemon_binary()), "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            env=daemon_env(self.env),
        )
        try:
            wait_for_port(self.ws_port, ready_timeout, self.proc)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"daemon did not become ready: {exc}\n--- daemon log ---\n{self.log_text()}") from None
        return self

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.exit_code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """SIGTERM (bounded wait), then SIGKILL. Returns the exit code (None if killed)."""
        if self.proc is None:
            return self.exit_code
        self.exit_code = stop_process(self.proc, sig, timeout)
        self.proc = None
        self._log.close()
        return self.exit_code

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_records(self) -> list[dict]:
        out = []
        for line in self.log_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out


def run_check(config: dict, workdir: Path, name: str = "check", timeout: float = 10.0) -> subprocess.CompletedProcess:
    """Run ``socketshark -c FILE --check`` on a config dict."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run(
        [str(daemon_binary()), "-c", str(path), "--check"],
        stdin=subprocess.DEVNULL,
        env=daemon_env(),
        capture_output=True,
        timeout=timeout,
    )


# --------------------------------------------------------------------------
# WebSocket clients
# --------------------------------------------------------------------------

# Clients opened during the running test; closed by the async test runner.
OPEN_CLIENTS: list["Client"] = []


class Client:
    """A WebSocket client with JSON helpers (websockets legacy client)."""

    def __init__(self, ws: websockets.client.WebSocketClientProtocol) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> "Client":
        kwargs.setdefault("ping_interval", None)  # no client-side keepalive pings
        kwargs.setdefault("open_timeout", 5)
        kwargs.setdefault("close_timeout", 2)
        ws = await websockets.client.connect(url, **kwargs)
        client = cls(ws)
        OPEN_CLIENTS.append(client)
        return client

    async def send_json(self, obj: Any) -> None:
        await self.ws.send(json.dumps(obj))

    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send(data)

    async def recv_json(self, timeout: float = 5.0) -> Any:
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no frame received within {timeout} s") from None
        except websockets.exceptions.ConnectionClosed as exc:
            raise AssertionError(f"connection closed while waiting for a frame: code={exc.code} reason={exc.reason!r}") from None
        assert isinstance(raw, str), f"expected a text frame, got {raw!r}"
        return json.loads(raw)

    async def request(self, obj: Any, timeout: float = 5.0) -> Any:
        """Send an event and return the next frame."""
        await self.send_json(obj)
        return await self.recv_json(timeout)

    async def expect_no_message(self, within: float = 0.5) -> None:
        try:
            raw = await asyncio.wait_for(self.ws.recv(), within)
        except asyncio.TimeoutError:
            return
        except websockets.exceptions.ConnectionClosed as exc:
            raise AssertionError(f"connection closed (code={exc.code}) while expecting silence") from None
        raise AssertionError(f"expected no frame within {within} s, got {raw!r}")

    async def expect_closed(self, timeout: float = 5.0) -> int | None:
        """Wait until the server closes the connection; returns the close code.

        Fails if a data frame arrives first.
        """
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"connection still open after {timeout} s") from None
        except websockets.exceptions.ConnectionClosed:
            return self.ws.close_code
        raise AssertionError(f"expected the connection to close, got frame {raw!r}")

    async def auth(self, ticket: str = "ticket-1") -> None:
        reply = await self.request({"event": "auth", "ticket": ticket})
        assert reply == {"event": "auth", "status": "ok"}, reply

    async def ping_pong(self, data: str = "sync") -> None:
        """Round-trip an application ping: proves all earlier events were handled."""
        reply = await self.request({"event": "ping", "data": data})
        assert reply == {"event": "pong", "data": data}, reply

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 5)
        except Exception:
            pass


async def close_all_clients() -> None:
    clients = list(OPEN_CLIENTS)
    OPEN_CLIENTS.clear()
    for c in clients:
        await c.close()


class RawWebSocket:
    """A blocking, minimal WebSocket client that does nothing on its own.

    It performs the opening handshake by hand and then only reads and writes
    the frames the test asks for; in particular it never answers pings.
    """

    OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET / HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"connection closed during handshake: {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line = head.split(b"\r\n", 1)[0]
        assert b" 101 " in status_line + b" ", f"handshake refused: {head!r}"

    def _read_exact(self, n: int, deadline: float) -> bytes | None:
        while len(self.buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError from None
            except (ConnectionResetError, BrokenPipeError):
                return None
            if not chunk:
                return None
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_frame(self, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """Next frame as (opcode, payload); None on EOF; TimeoutError if none."""
        deadline = time.monotonic() + timeout
        head = self._read_exact(2, deadline)
        if head is None:
            return None
        opcode = head[0] & 0x0F
        masked = head[1] & 0x80
        length = head[1] & 0x7F
        if length == 126:
            ext = self._read_exact(2, deadline)
            if ext is None:
                return None
            length = struct.unpack("!H", ext)[0]
        elif length == 127:
            ext = self._read_exact(8, deadline)
            if ext is None:
                return None
            length = struct.unpack("!Q", ext)[0]
        mask = b""
        if masked:
            mask = self._read_exact(4, deadline) or b""
        payload = self._read_exact(length, deadline) if length else b""
        if payload is None:
            return None
        if masked:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return opcode, payload

    def send_frame(self, opcode: int, payload: bytes = b"") -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_json(self, obj: Any) -> None:
        self.send_frame(self.OP_TEXT, json.dumps(obj).encode())

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------

# The ticket auth answer used by Client.auth() unless a test scripts another.
SESSION_ID = "sess_1"


def callback_urls(svc: FakeService, service: str, *names: str) -> dict:
    """{name: URL of /service/name on the fake service} for each callback name."""
    return {name: svc.url(f"/{service}/{name}") for name in names}


ALL_CALLBACKS = (
    "authorizer",
    "before_subscribe",
    "on_subscribe",
    "on_message",
    "before_unsubscribe",
    "on_unsubscribe",
)


def base_config(svc: FakeService) -> dict:
    """The config most tests run with (memory broker, one HTTP try).

    Services:
      open   no authentication, no callbacks
      closed authentication required (the default), no callbacks
      bare   no authentication, extra_fields [extra], no callbacks
      full   authentication required, every subscription callback at
             /full/<callback>, authorizer_fields [capabilities],
             extra_fields [extra]
    """
    return {
        "ws_host": "127.0.0.1",
        "ws_port": free_port(),
        "log": {"level": "DEBUG", "format": "json"},
        "broker": "memory",
        "http": {"timeout": 5, "tries": 1, "wait": 0.1},
        "authentication": {
            "ticket": {
                "validation_url": svc.url("/auth/ticket"),
                "auth_fields": ["session_id"],
            }
        },
        "services": {
            "open": {"require_authentication": False},
            "closed": {},
            "bare": {"require_authentication": False, "extra_fields": ["extra"]},
            "full": {
                **callback_urls(svc, "full", *ALL_CALLBACKS),
                "authorizer_fields": ["capabilities"],
                "extra_fields": ["extra"],
            },
        },
    }


# --------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------


def scrape_metrics(port: int) -> dict[str, float]:
    """The admin port's /metrics as {sample name with labels: value}."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def registry_gauges(port: int) -> tuple[float, float, float]:
    """(connections, subscriptions, channels) from /metrics; -1 when absent."""
    s = scrape_metrics(port)
    return (
        s.get("socketshark_connection_count", -1),
        s.get("socketshark_subscriptions", -1),
        s.get("socketshark_channels", -1),
    )


async def subscribed_client(daemon: "Daemon", fake_service: "FakeService", name: str = "full.topic",
                            extra: str = "stored") -> "Client":
    """An authenticated client subscribed to `name` of the `full` service, on_subscribe seen."""
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    reply = await c.request({"event": "subscribe", "subscription": name, "extra": extra})
    assert reply == {"event": "subscribe", "subscription": name, "status": "ok", "extra": extra}
    await fake_service.wait_for("/full/on_subscribe")
    return c
