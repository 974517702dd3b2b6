"""JWT authentication (SPEC §7) on all three paths: the bearer subprotocol,
?token= on the handshake URL, and the auth event. A bad token at the
handshake is accepted and closed at once with 4401; in the auth event it
gets "Authentication failed."."""

import base64
import json
import time

import jwt
import pytest
import websockets.exceptions

from harness import ERR_AUTH_FAILED, Client

SECRET = "integration-secret"


def token(claims: dict | None = None, key: str = SECRET, algorithm: str = "HS256", **overrides) -> str:
    payload = {"user_id": "u1", "aud": "chat", "exp": int(time.time()) + 300}
    payload.update(claims or {})
    payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=algorithm)


def unsigned_token() -> str:
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f'{b64({"alg": "none", "typ": "JWT"})}.{b64({"user_id": "u1", "aud": "chat", "exp": int(time.time()) + 300})}.'


BAD_TOKENS = {
    "expired": lambda: token(exp=int(time.time()) - 3600),
    "wrong_audience": lambda: token(aud="other"),
    "wrong_signature": lambda: token(key="not-the-secret"),
    "alg_none": unsigned_token,
}


@pytest.fixture
def jwt_config(config):
    config["authentication"]["jwt"] = {
        "secret": SECRET,
        "algorithms": ["HS256"],
        "audience": "chat",
        "leeway": 5,
        "auth_fields": ["user_id"],
    }
    return config


async def assert_authenticated(client: Client) -> None:
    """`closed` requires authentication: subscribing proves the auth info is set."""
    reply = await client.request({"event": "subscribe", "subscription": "closed.room"})
    assert reply == {"event": "subscribe", "status": "ok", "subscription": "closed.room"}, reply


async def test_valid_token_in_subprotocol_authenticates_and_selects_bearer(jwt_config, start_daemon):
    daemon = start_daemon(jwt_config)
    client = await Client.connect(daemon.ws_url, subprotocols=["bearer", token()])
    assert client.ws.subprotocol == "bearer"
    await assert_authenticated(client)


async def test_valid_token_in_query_authenticates(jwt_config, start_daemon):
    daemon = start_daemon(jwt_config)
    client = await Client.connect(daemon.ws_url + "?token=" + token())
    await assert_authenticated(client)


async def test_valid_token_in_auth_event_authenticates(jwt_config, start_daemon):
    daemon = start_daemon(jwt_config)
    client = await Client.connect(daemon.ws_url)
    reply = await client.request({"event": "auth", "method": "jwt", "token": token()})
    assert reply == {"event": "auth", "status": "ok"}
    await assert_authenticated(client)


async def test_token_claims_reach_callbacks_as_auth_info(jwt_config, fake_service, start_daemon):
    daemon = start_daemon(jwt_config)
    client = await Client.connect(daemon.ws_url, subprotocols=["bearer", token(user_id="u42")])
    reply = await client.request({"event": "subscribe", "subscription": "full.room", "extra": 1})
    assert reply["status"] == "ok", reply
    assert fake_service.bodies("/full/authorizer")[0] == {"subscription": "full.room", "extra": 1, "user_id": "u42"}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_bad_token_in_subprotocol_is_closed_with_4401(kind, jwt_config, start_daemon):
    daemon = start_daemon(jwt_config)
    client = await Client.connect(daemon.ws_url, subprotocols=["bearer", BAD_TOKENS[kind]()])
    assert await client.expect_closed() == 4401


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_bad_token_in_query_is_closed_with_4401(kind, jwt_config, start_daemon):
    daemon = start_daemon(jwt_config)
    client = await Client.connect(daemon.ws_url + "?token=" + BAD_TOKENS[kind]())
    assert await client.expect_closed() == 4401


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_bad_token_in_auth_event_fails_authentication(kind, jwt_config, start_daemon):
    daemon = start_daemon(jwt_config)
    client = await Client.connect(daemon.ws_url)
    reply = await client.request({"event": "auth", "method": "jwt", "token": BAD_TOKENS[kind]()})
    assert reply == {"event": "auth", "status": "error", "error": ERR_AUTH_FAILED}
    reply = await client.request({"event": "subscribe", "subscription": "closed.room"})
    assert reply["error"] == "Authentication required."


async def test_tokens_never_reach_the_log(jwt_config, start_daemon):
    daemon = start_daemon(jwt_config)
    good, bad = token(), BAD_TOKENS["wrong_signature"]()
    client = await Client.connect(daemon.ws_url, subprotocols=["bearer", good])
    await assert_authenticated(client)
    rejected = await Client.connect(daemon.ws_url + "?token=" + bad)
    await rejected.expect_closed()
    other = await Client.connect(daemon.ws_url)
    await other.request({"event": "auth", "method": "jwt", "token": bad})
    await client.ping_pong()
    log = daemon.log_text()
    for secret in (good, bad, good.split(".")[2], bad.split(".")[2]):
        assert secret not in log


async def test_jwt_method_is_unsupported_when_not_configured(daemon):
    client = await Client.connect(daemon.ws_url)
    reply = await client.request({"event": "auth", "method": "jwt", "token": token()})
    assert reply == {"event": "auth", "status": "error", "error": "Authentication method unsupported."}
