"""SPEC §2 `http.ssl_cafile` (https callbacks) and §5 `ws_ssl` (wss)."""

import pytest

from harness import ERR_SERVICE_UNAVAILABLE, Client, FakeService, make_certificate, ok


@pytest.fixture
def cert(tmp_path):
    return make_certificate(tmp_path / "tls")


@pytest.fixture
def https_service(cert, request):
    svc = FakeService(tls=cert).start()
    svc.set("/auth/ticket", ok(session_id="tls"))
    request.node._socketshark_fake_service = svc
    yield svc
    svc.stop()


async def test_https_callback_trusted_through_ssl_cafile(config, start_daemon, https_service, cert):
    config["authentication"]["ticket"]["validation_url"] = https_service.url("/auth/ticket")
    config["http"]["ssl_cafile"] = str(cert.cert)
    daemon = start_daemon(config)
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "t"}) == {"event": "auth", "status": "ok"}
    assert https_service.bodies("/auth/ticket") == [{"ticket": "t"}]


async def test_https_callback_with_untrusted_certificate_is_service_unavailable(config, start_daemon, https_service):
    config["authentication"]["ticket"]["validation_url"] = https_service.url("/auth/ticket")
    daemon = start_daemon(config)
    c = await Client.connect(daemon.ws_url)
    assert await c.request({"event": "auth", "ticket": "t"}) == {
        "event": "auth",
        "status": "error",
        "error": ERR_SERVICE_UNAVAILABLE,
    }
    assert https_service.requests("/auth/ticket") == []


async def test_ws_ssl_serves_wss(config, start_daemon, cert):
    config["ws_ssl"] = {"cert": str(cert.cert), "key": str(cert.key)}
    daemon = start_daemon(config)
    c = await Client.connect(f"wss://127.0.0.1:{daemon.ws_port}/", ssl=cert.client_context())
    await c.ping_pong("secure")
