"""SPEC §2 HTTP options: tries, wait, timeout, 429 handling, content types,
connection reuse and credentials in URLs. Most tests use the ticket
validation callback, the simplest one to drive."""

import asyncio
import base64

import pytest

from harness import (
    ERR_SERVICE_UNAVAILABLE,
    SESSION_ID,
    Client,
    FakeService,
    Reply,
    free_port,
    http_status,
    close_all_clients,
    ok,
)

AUTH_OK = {"event": "auth", "status": "ok"}
AUTH_DOWN = {"event": "auth", "status": "error", "error": ERR_SERVICE_UNAVAILABLE}
TICKET = "/auth/ticket"


def with_http(config, **http):
    config["http"] = {"timeout": 5, "tries": 3, "wait": 0.1, **http}
    return config


def gap(reqs, i):
    """Seconds between the answer to try i and the arrival of try i+1."""
    return reqs[i + 1].at - reqs[i].answered_at


async def auth(daemon, timeout=10):
    c = await Client.connect(daemon.ws_url)
    return await c.request({"event": "auth", "ticket": "t"}, timeout=timeout)


# -- tries ------------------------------------------------------------------


async def test_500_is_retried_until_success(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=3))
    fake_service.queue(TICKET, http_status(500), http_status(500))
    assert await auth(daemon) == AUTH_OK
    reqs = fake_service.requests(TICKET)
    assert len(reqs) == 3
    assert [r.json for r in reqs] == [{"ticket": "t"}] * 3


async def test_all_tries_failing_is_service_unavailable(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=3))
    fake_service.set(TICKET, http_status(500))
    assert await auth(daemon) == AUTH_DOWN
    assert fake_service.count(TICKET) == 3


async def test_a_single_try_is_not_retried(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=1))
    fake_service.queue(TICKET, http_status(500))
    assert await auth(daemon) == AUTH_DOWN
    assert fake_service.count(TICKET) == 1


@pytest.mark.parametrize("status", [400, 404, 503])
async def test_any_non_2xx_status_is_retried(config, start_daemon, fake_service, status):
    daemon = start_daemon(with_http(config, tries=2))
    fake_service.queue(TICKET, http_status(status))
    assert await auth(daemon) == AUTH_OK
    assert fake_service.count(TICKET) == 2


async def test_non_2xx_with_an_ok_json_body_is_still_a_failure(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=1))
    fake_service.set(TICKET, Reply(json={"status": "ok", "session_id": SESSION_ID}, status=500))
    assert await auth(daemon) == AUTH_DOWN


async def test_non_json_content_type_is_retried(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=2))
    fake_service.queue(TICKET, Reply(body="<html>busy</html>", content_type="text/html"))
    assert await auth(daemon) == AUTH_OK
    assert fake_service.count(TICKET) == 2


async def test_json_body_with_non_json_content_type_is_service_unavailable(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=2))
    fake_service.set(TICKET, Reply(body='{"status": "ok", "session_id": "s"}', content_type="text/plain"))
    assert await auth(daemon) == AUTH_DOWN
    assert fake_service.count(TICKET) == 2


async def test_connection_refused_is_service_unavailable(config, start_daemon):
    config["authentication"]["ticket"]["validation_url"] = f"http://127.0.0.1:{free_port()}/auth/ticket"
    daemon = start_daemon(with_http(config, tries=2))
    assert await auth(daemon) == AUTH_DOWN


async def test_timeout_is_service_unavailable(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, timeout=0.2, tries=1))
    fake_service.set(TICKET, ok(session_id=SESSION_ID).delayed(3.0))
    c = await Client.connect(daemon.ws_url)
    # Well before the service would have answered.
    assert await c.request({"event": "auth", "ticket": "t"}, timeout=2.0) == AUTH_DOWN


async def test_timeout_is_retried(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, timeout=0.2, tries=2))
    fake_service.queue(TICKET, ok(session_id=SESSION_ID).delayed(2.0))
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "t"}, timeout=1.8) == AUTH_OK
    assert fake_service.count(TICKET) == 2


async def test_wait_between_tries(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=2, wait=0.5))
    fake_service.queue(TICKET, http_status(500))
    assert await auth(daemon) == AUTH_OK
    reqs = fake_service.requests(TICKET)
    assert 0.45 <= gap(reqs, 0) < 3.0


# -- 429 --------------------------------------------------------------------


def rate_limited(**headers):
    return http_status(429, headers=headers)


async def test_429_waits_the_x_rate_limit_reset_seconds(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=2, wait=3))
    fake_service.queue(TICKET, rate_limited(**{"X-Rate-Limit-Reset": "0.2"}))
    assert await auth(daemon) == AUTH_OK
    reqs = fake_service.requests(TICKET)
    assert 0.15 <= gap(reqs, 0) < 2.0


async def test_429_with_zero_reset_retries_at_once(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=2, wait=1.0))
    fake_service.queue(TICKET, rate_limited(**{"X-Rate-Limit-Reset": "0"}))
    assert await auth(daemon) == AUTH_OK
    assert gap(fake_service.requests(TICKET), 0) < 0.7


async def test_429_uses_the_configured_header_names(config, start_daemon, fake_service):
    config = with_http(config, tries=2, wait=3)
    config["http"]["rate_limit_reset_header_names"] = ["Retry-After", "X-Custom-Reset"]
    daemon = start_daemon(config)
    fake_service.queue(TICKET, rate_limited(**{"X-Custom-Reset": "0.2"}))
    assert await auth(daemon) == AUTH_OK
    assert 0.15 <= gap(fake_service.requests(TICKET), 0) < 2.0


async def test_429_uses_the_first_configured_header_present(config, start_daemon, fake_service):
    config = with_http(config, tries=2, wait=3)
    config["http"]["rate_limit_reset_header_names"] = ["X-First", "X-Second"]
    daemon = start_daemon(config)
    # X-Second comes first in the answer but second in the list.
    fake_service.queue(TICKET, rate_limited(**{"X-Second": "30", "X-First": "0.2"}))
    assert await auth(daemon) == AUTH_OK
    assert gap(fake_service.requests(TICKET), 0) < 2.0


async def test_429_header_not_in_the_configured_list_is_ignored(config, start_daemon, fake_service):
    config = with_http(config, tries=2, wait=1.0)
    config["http"]["rate_limit_reset_header_names"] = ["Retry-After"]
    daemon = start_daemon(config)
    fake_service.queue(TICKET, rate_limited(**{"X-Rate-Limit-Reset": "0"}))
    assert await auth(daemon) == AUTH_OK
    assert gap(fake_service.requests(TICKET), 0) >= 0.8


@pytest.mark.parametrize("value", ["soon", "-1", "nan", ""])
async def test_429_with_invalid_reset_value_waits_the_configured_wait(config, start_daemon, fake_service, value):
    daemon = start_daemon(with_http(config, tries=2, wait=1.0))
    fake_service.queue(TICKET, rate_limited(**{"X-Rate-Limit-Reset": value}))
    assert await auth(daemon) == AUTH_OK
    assert 0.8 <= gap(fake_service.requests(TICKET), 0) < 4.0


async def test_429_without_reset_header_waits_the_configured_wait(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=2, wait=1.0))
    fake_service.queue(TICKET, rate_limited())
    assert await auth(daemon) == AUTH_OK
    assert 0.8 <= gap(fake_service.requests(TICKET), 0) < 4.0


async def test_429_uses_up_a_try(config, start_daemon, fake_service):
    daemon = start_daemon(with_http(config, tries=2, wait=3))
    fake_service.set(TICKET, rate_limited(**{"X-Rate-Limit-Reset": "0.1"}))
    assert await auth(daemon) == AUTH_DOWN
    assert fake_service.count(TICKET) == 2


async def test_wait_after_a_429_returns_to_the_configured_wait(config, start_daemon, fake_service):
    # 429 (reset 0) then 500 then ok: the second gap is the configured wait.
    daemon = start_daemon(with_http(config, tries=3, wait=1.0))
    fake_service.queue(TICKET, rate_limited(**{"X-Rate-Limit-Reset": "0"}), http_status(500))
    assert await auth(daemon) == AUTH_OK
    reqs = fake_service.requests(TICKET)
    assert len(reqs) == 3
    assert gap(reqs, 0) < 0.7
    assert gap(reqs, 1) >= 0.8


# -- connections and credentials -------------------------------------------


async def test_callbacks_of_one_session_reuse_connections(daemon, fake_service):
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.request({"event": "subscribe", "subscription": "full.topic"})
    await fake_service.wait_for("/full/on_subscribe")
    await c.send_json({"event": "message", "subscription": "full.topic", "data": 1})
    await c.send_json({"event": "message", "subscription": "full.topic", "data": 2})
    await c.request({"event": "unsubscribe", "subscription": "full.topic"})
    await fake_service.wait_for("/full/on_unsubscribe")
    reqs = fake_service.requests()
    assert len(reqs) == 8
    ports = {r.peer_port for r in reqs}
    assert len(ports) < len(reqs), f"every callback used a new TCP connection: {sorted(ports)}"


async def test_url_credentials_are_sent_as_basic_auth_and_not_logged(config, start_daemon, fake_service):
    config["authentication"]["ticket"]["validation_url"] = (
        f"http://alice:s3cr3tpw@127.0.0.1:{fake_service.port}/auth/ticket"
    )
    daemon = start_daemon(config)
    assert await auth(daemon) == AUTH_OK
    (req,) = fake_service.requests(TICKET)
    assert req.headers.get("Authorization") == "Basic " + base64.b64encode(b"alice:s3cr3tpw").decode()
    await close_all_clients()
    assert await asyncio.get_running_loop().run_in_executor(None, daemon.stop) == 0
    assert "s3cr3tpw" not in daemon.log_text()


async def test_answers_with_connection_close_do_not_break_later_callbacks(daemon, fake_service):
    # base config: one try, so a callback sent on a connection the service
    # closed would surface as "Service unavailable."
    for path in ("/auth/ticket", "/full/authorizer", "/full/before_subscribe", "/full/on_message"):
        reply = ok(session_id=SESSION_ID) if path == TICKET else ok(data="m")
        reply.headers["Connection"] = "close"
        fake_service.set(path, reply)
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    assert (await c.request({"event": "subscribe", "subscription": "full.topic"}))["status"] == "ok"
    for _ in range(3):
        assert (await c.request({"event": "message", "subscription": "full.topic"}))["status"] == "ok"


async def test_connection_closed_by_the_service_while_idle_is_not_a_failure(config, start_daemon, request):
    # The service drops idle keep-alive connections after 0.2 s; a pooled
    # connection must not turn the next callback into "Service unavailable."
    svc = FakeService(keepalive_timeout=0.2).start()
    request.node._socketshark_fake_service = svc
    try:
        svc.set(TICKET, ok(session_id=SESSION_ID))
        config["authentication"]["ticket"]["validation_url"] = svc.url(TICKET)
        daemon = start_daemon(with_http(config, tries=1))
        c = await Client.connect(daemon.ws_url)
        for _ in range(3):
            assert await c.request({"event": "auth", "ticket": "t"}) == AUTH_OK
            await asyncio.sleep(0.6)
        assert svc.count(TICKET) == 3
    finally:
        await close_all_clients()
        svc.stop()
