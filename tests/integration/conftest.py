"""Fixtures for the socketshark integration tests.

Async tests: there is no pytest-asyncio on Debian, so ``async def`` tests are
run here with ``asyncio.run`` (bounded by ASYNC_TEST_TIMEOUT), and every
WebSocket client a test opened is closed when its coroutine ends.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import signal
from pathlib import Path

import pytest

from harness import (
    SESSION_ID,
    base_config,
    Daemon,
    FakeService,
    RedisServer,
    close_all_clients,
    free_port,
    ok,
)

ASYNC_TEST_TIMEOUT = 60.0

# --------------------------------------------------------------------------
# async tests
# --------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def run():
        try:
            await asyncio.wait_for(pyfuncitem.obj(**kwargs), ASYNC_TEST_TIMEOUT)
        finally:
            await close_all_clients()

    asyncio.run(run())
    return True


# --------------------------------------------------------------------------
# failure output: the daemon's log and the requests the fake service saw
# --------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed:
        for daemon in getattr(item, "_socketshark_daemons", []):
            lines = daemon.log_text().splitlines()
            tail = "\n".join(lines[-400:])
            rep.sections.append((f"daemon log {daemon.log_path.name} (last {min(len(lines), 400)} lines)", tail))
        svc = getattr(item, "_socketshark_fake_service", None)
        if svc is not None:
            rep.sections.append(("fake service requests", svc.summary()))


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


@pytest.fixture
def fake_service(request):
    svc = FakeService().start()
    svc.set("/auth/ticket", ok(session_id=SESSION_ID))
    request.node._socketshark_fake_service = svc
    yield svc
    svc.stop()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def rds(redis_server):
    """A redis-py client of redis_server."""
    client = redis_server.client()
    yield client
    client.close()


@pytest.fixture
def config(fake_service):
    """A fresh base config; tests may edit it before start_daemon(config)."""
    return base_config(fake_service)


@pytest.fixture
def start_daemon(request, tmp_path):
    """Factory: start_daemon(config, expect_clean_exit=True, env=None) -> running Daemon.

    At teardown every daemon still running gets SIGTERM (SIGKILL after 10 s)
    and, unless told otherwise, must have exited with code 0.
    """
    started: list[tuple[Daemon, bool]] = []
    request.node._socketshark_daemons = []

    def start(config: dict, expect_clean_exit: bool = True, name: str | None = None, env: dict | None = None) -> Daemon:
        name = name or f"socketshark{len(started) or ''}"
        daemon = Daemon(copy.deepcopy(config), Path(tmp_path), name=name, env=env)
        request.node._socketshark_daemons.append(daemon)
        daemon.start()
        started.append((daemon, expect_clean_exit))
        return daemon

    yield start

    problems = []
    for daemon, expect_clean_exit in started:
        was_running = daemon.running
        code = daemon.stop(signal.SIGTERM, timeout=10)
        if expect_clean_exit and was_running and code != 0:
            problems.append(f"{daemon.log_path.name}: exit code {code} after SIGTERM (expected 0)")
    if problems:
        logs = "\n".join(f"--- {d.log_path.name} ---\n{d.log_text()[-20000:]}" for d, _ in started)
        pytest.fail("; ".join(problems) + "\n" + logs, pytrace=False)


@pytest.fixture
def daemon(config, start_daemon):
    """The daemon running base_config()."""
    return start_daemon(config)
