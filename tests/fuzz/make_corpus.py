#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/).

The seeds are small, real inputs: client frames as browsers send them,
messages as services publish them, configs as operators write them, answers
as callback services return them. Run it again after editing; the files are
committed so run.sh needs nothing but the build.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def write(target: str, items: list[bytes]) -> None:
    out = HERE / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    for data in items:
        name = hashlib.sha1(data).hexdigest()[:16]
        (out / name).write_bytes(data)


def j(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# (a) client frames
client_event = [
    j({"event": "ping"}),
    j({"event": "ping", "data": "sync"}),
    j({"event": "ping", "data": "é" * 130}),
    j({"event": "ping", "data": 12}),
    j({"event": "auth", "ticket": "ticket-1"}),
    j({"event": "auth", "method": "jwt", "token": "eyJhbGciOiJIUzI1NiJ9.e30.x"}),
    j({"event": "auth", "method": "magic"}),
    j({"event": "subscribe", "subscription": "full.topic", "extra": "x"}),
    j({"event": "subscribe", "subscription": "bare.t", "extra": {"k": [1, 2.5, None, True]}}),
    j({"event": "subscribe", "subscription": ".topic"}),
    j({"event": "message", "subscription": "full.topic", "data": {"text": "hi"}}),
    j({"event": "unsubscribe", "subscription": "full.topic"}),
    j({"event": "x" * 41}),
    j({"event": "é" * 40}),
    j({"event": None}),
    j({"event": "unknown", "status": "ok"}),
    j([1, 2, 3]),
    b"not json",
    b'{"event":"ping"',
    b'{"event":"ping","data":"\\ud83d\\ude00"}',
    b'{"event":"ping","data":"\\ud800"}',
    b"[" * 300 + b"]" * 300,
    b'{"event":"subscribe","subscription":"a.b","extra":1e400}',
    b'{"event":"message","subscription":"a.b","data":-0.0,"extra":18446744073709551615}',
]

# (b) broker messages: a flag byte (variant) + the payload as published
def pub(flags: int, obj) -> bytes:
    return bytes([flags]) + (obj if isinstance(obj, bytes) else j(obj))


published = [
    pub(0x03, {"subscription": "full.topic", "data": {"text": "hi"}}),
    pub(0x01, {"subscription": "full.topic", "data": None, "published_at": "2026-11-25T11:45:09Z"}),
    pub(0x13, {"subscription": "full.topic", "data": [1], "published_at": "2026-11-25T11:45:09.123+02:00"}),
    pub(0x07, {"subscription": "full.topic", "data": 1, "published_at": "2026-11-25"}),
    pub(0x01, {"subscription": "full.topic", "data": 1, "published_at": "not a date"}),
    pub(0x01, {"subscription": "full.topic", "data": 1, "published_at": 1732535109}),
    pub(0x23, {"subscription": "a.b", "data": {}, "options": {"order": 3, "order_key": "k"}}),
    pub(0x2b, {"subscription": "a.b", "data": {}, "options": {"order": "1_000.5e-3", "order_key": None}}),
    pub(0x33, {"subscription": "a.b", "data": {}, "options": {"order": " NaN "}}),
    pub(0x3f, {"subscription": "a.b", "data": {}, "options": {"throttle": 0.5, "throttle_key": [1, "x"]}}),
    pub(0x1d, {"subscription": "a.b", "data": {}, "options": {"throttle": True, "order": "inf"}}),
    pub(0x0b, {"subscription": "a.b", "data": {}, "options": {"throttle": "-Infinity", "order": False}}),
    pub(0x31, {"subscription": "a.b", "data": "x", "session_id": "sess_1", "extra": {"data": 1, "user": 2}}),
    pub(0x21, {"subscription": "a.b", "data": "x", "user_id": None, "team": 1.0, "extra": {"user": "u"}}),
    pub(0x01, {"subscription": 12, "data": {"nested": {"deep": [[[]]]}}}),
    pub(0x01, {"subscription": "a.b"}),
    pub(0x01, {"data": 1}),
    pub(0x01, [1, 2]),
    pub(0x01, b"garbage \xff\xfe"),
    pub(0x01, b'{"subscription":"a.b","data":"\\u0000\\ud83d\\ude00"}'),
]

# (c) configs: the shipped ones, small hand-written ones, environment overrides
configs = [
    (REPO / "config" / "dev.yaml").read_bytes(),
    (REPO / "config" / "example.yaml").read_bytes(),
    (REPO / "examples" / "config.yaml").read_bytes(),
    b"",
    b"ws_port: 9000\n",
    b"ws_port: 70000\n",
    b"broker: memory\nservices:\n  open: {require_authentication: false}\n",
    b"redis: {host: localhost, port: 6379, ping_interval: 0.2, ping_timeout: 0.5}\n",
    b"redis: {cluster: {nodes: ['127.0.0.1:7000', '127.0.0.1:7001'], sharded: true}}\n",
    b"http: {timeout: 0.1, tries: 3, wait: 0, rate_limit_reset_header_names: [X-Rate-Limit-Reset, Retry-After]}\n",
    b"authentication:\n  ticket: {validation_url: 'http://127.0.0.1:1/auth', auth_fields: [session_id]}\n"
    b"  jwt: {secret: s3cret, algorithms: [HS256], leeway: 30, auth_fields: {user_id: sub}}\n",
    b"authentication: {jwt: {secret: x, algorithms: [none]}}\n",
    b"services:\n  full:\n    authorizer: http://127.0.0.1:1/a\n    authorizer_fields: [capabilities]\n"
    b"    authorization_renewal_period: 0.1\n    authorization_renewal_jitter: 0.05\n"
    b"    extra_fields: [extra]\n    filter_fields: [session_id, extra]\n    heartbeat_period: 1\n"
    b"    on_heartbeat: https://user:pass@127.0.0.1/h\n",
    b"limits: {max_message_bytes: 1024, client_rate: {rate: 10, burst: 5}, "
    b"max_connections_per_user: {field: user_id, max: 2}, handshake_timeout: 1, auth_timeout: 0}\n",
    b"publish_api: {keys: [k1], max_body_bytes: 1024}\nmetrics: {prometheus: {host: 127.0.0.1, port: 9090}, log: {}}\n",
    b"shutdown: {drain_seconds: 2.5}\nws_ping: {interval: null, timeout: 0}\nlog: {level: debug, format: console}\n",
    b"ws_ssl: {cert: /nonexistent.pem}\n",
    b"- a\n- b\n",
    b"servces: {}\nws_prot: 1\n",
    b"ws_port: 9000\x00SOCKETSHARK_WS_PORT=9001\nSOCKETSHARK_REDIS__HOST=redis\nSOCKETSHARK_HTTP__TRIES=[1, 2]\n",
    b"services: {a: {}}\x00SERVICES__A__EXTRA_FIELDS=[x, y]\nSOCKETSHARK_PORT=tcp://10.0.0.1:9000\nWS_PORT=*secret\n",
    b"&a [*a]\n",
    b"key: !!binary aGVsbG8=\nws_host: !!str 1\n",
]

# (d) callback answers: bodies as services return them
answers = [
    j({"status": "ok"}),
    j({"status": "ok", "session_id": "sess_1"}),
    j({"status": "ok", "session_id": "sess_1", "user_id": 7}),
    j({"status": "error", "error": "Go away."}),
    j({"status": "error", "error": {"code": 7}, "data": {"why": "x"}}),
    j({"status": "error", "data": 0}),
    j({"status": "ok", "data": {"greeting": "hi"}, "options": {"order": 5, "order_key": "k"}}),
    j({"status": "ok", "data": None}),
    j({"status": "ok", "capabilities": ["read", "write"]}),
    j({"status": "ok", "published_at": "2026-11-25T11:45:09.123456+00:00", "options": {"throttle": "0.5"}}),
    j({"status": "ok", "options": {"order": "\u0661\u0662", "order_key": 1.0}}),
    j({"status": "ok", "extra": "x", "session_id": None}),
    j({"status": "OK"}),
    j([{"status": "ok"}]),
    j("ok"),
    b"",
    b"<html>502 Bad Gateway</html>",
    b'{"status":"ok",}',
    b"2026-11-25T11:45:09Z",
    b"2026-11-25T11:45:09.5-05:30",
    b"2026-11-25 11:45",
    b"20261125T114509",
    b"2026-W48-3T11:45:09,123+0100",
    b"1_000.25e-2",
    b" -inf ",
    b"1e400",
    b"0.0000001e-320",
]

# (e) a session: a flag byte (1: authenticated at the handshake, 2: closes
# before the last line), then lines: client frames, or 0x01 + "<channel> <payload>"
# published to the broker.
def session(flags: int, *lines) -> bytes:
    return bytes([flags]) + b"\n".join(line if isinstance(line, bytes) else j(line) for line in lines)


def published_to(channel: str, obj) -> bytes:
    return b"\x01" + channel.encode() + b" " + j(obj)


dispatch = [
    session(0, {"event": "ping", "data": 1}),
    session(0, {"event": "subscribe", "subscription": "open.lobby", "color": "red"},
            published_to("open.lobby", {"subscription": "open.lobby", "data": {"n": 1}}),
            {"event": "message", "subscription": "open.lobby", "data": {"text": "hi"}},
            {"event": "unsubscribe", "subscription": "open.lobby"}),
    session(1, {"event": "subscribe", "subscription": "private.inbox"},
            published_to("private.inbox", {"subscription": "private.inbox", "data": 2, "options": {"order": 1}}),
            published_to("private.inbox", {"subscription": "private.inbox", "data": 3, "options": {"order": 0.5}}),
            published_to("private.inbox", {"subscription": "private.inbox", "data": 4,
                                            "options": {"throttle": 0.001, "throttle_key": "k"}})),
    session(0, {"event": "subscribe", "subscription": "private.inbox"}),
    session(0, {"event": "auth", "ticket": "t-1"}, {"event": "subscribe", "subscription": "guarded.room"}),
    session(1, {"event": "subscribe", "subscription": "open.a", "user_id": "fuzz"},
            published_to("open.a", {"subscription": "open.a", "data": 1, "user_id": "fuzz"}),
            published_to("open.a", {"subscription": "open.a", "data": 1, "user_id": "other"}),
            {"event": "subscribe", "subscription": "open.a"},
            {"event": "subscribe", "subscription": "open.b"}),
    session(2, {"event": "subscribe", "subscription": "open.x"}, {"event": "subscribe", "subscription": "open.y"},
            {"event": "ping"}),
    session(0, *[{"event": "subscribe", "subscription": f"open.s{i}"} for i in range(10)]),
    session(0, b"not json", {"event": "nope"}, {"event": "auth", "method": "magic"}, b"[1]",
            {"event": "unsubscribe", "subscription": "open.never"}),
]

write("fuzz_client_event", client_event)
write("fuzz_dispatch", dispatch)
write("fuzz_published", published)
write("fuzz_config", configs)
write("fuzz_callback_answer", answers)
print("corpus written:", {t: len(list((HERE / "corpus" / t).iterdir())) for t in
                          ("fuzz_client_event", "fuzz_published", "fuzz_config", "fuzz_callback_answer",
                           "fuzz_dispatch")})
