"""SPEC §4 shutdown and §5 command line, config validation and logging."""

import asyncio
import json
import signal
import socket
import subprocess

from harness import SESSION_ID, Client, daemon_binary, daemon_env, free_port, ok, run_check


async def test_sigterm_closes_sessions_runs_callbacks_and_exits_0(config, start_daemon, fake_service):
    daemon = start_daemon(config, expect_clean_exit=False)
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.request({"event": "subscribe", "subscription": "full.a", "extra": "e"})
    await fake_service.wait_for("/full/on_subscribe")
    daemon.send_signal(signal.SIGTERM)
    code = await c.expect_closed(timeout=10)
    assert code is not None
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, daemon.wait, 10) == 0
    body = {"subscription": "full.a", "extra": "e", "session_id": SESSION_ID}
    assert fake_service.bodies("/full/before_unsubscribe") == [body]
    assert fake_service.bodies("/full/on_unsubscribe") == [body]


async def test_sigint_exits_0(config, start_daemon):
    daemon = start_daemon(config, expect_clean_exit=False)
    c = await Client.connect(daemon.ws_url)
    await c.ping_pong()
    daemon.send_signal(signal.SIGINT)
    await c.expect_closed(timeout=10)
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, daemon.wait, 10) == 0


def test_idle_daemon_exits_0_on_sigterm(daemon):
    assert daemon.stop(signal.SIGTERM, timeout=10) == 0


def test_check_accepts_a_valid_config_without_listening(config, tmp_path):
    result = run_check(config, tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", config["ws_port"])) != 0


def test_check_refuses_an_unknown_key_with_exit_code_2(config, tmp_path):
    config["services"]["open"]["no_such_setting"] = True
    result = run_check(config, tmp_path)
    assert result.returncode == 2
    out = (result.stdout + result.stderr).decode(errors="replace")
    assert "no_such_setting" in out
    assert "check.yaml" in out


def test_check_refuses_a_wrong_type_with_exit_code_2(config, tmp_path):
    config["ws_port"] = "not a port"
    result = run_check(config, tmp_path)
    assert result.returncode == 2
    assert "ws_port" in (result.stdout + result.stderr).decode(errors="replace")


def test_check_refuses_a_bad_callback_url_with_exit_code_2(config, tmp_path):
    config["services"]["full"]["on_message"] = "not a url"
    result = run_check(config, tmp_path)
    assert result.returncode == 2
    assert "on_message" in (result.stdout + result.stderr).decode(errors="replace")


def test_invalid_config_refuses_to_start_with_exit_code_2(config, tmp_path):
    config["no_such_section"] = {}
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    result = subprocess.run(
        [str(daemon_binary()), "-c", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=10,
        env=daemon_env(),
    )
    assert result.returncode == 2
    assert "no_such_section" in (result.stdout + result.stderr).decode(errors="replace")


def test_version_exits_0():
    result = subprocess.run(
        [str(daemon_binary()), "--version"], capture_output=True, timeout=10, env=daemon_env()
    )
    assert result.returncode == 0
    assert (result.stdout + result.stderr).strip()


def test_environment_overrides_the_config(config, start_daemon):
    port = free_port()
    daemon = start_daemon(config, env={"SOCKETSHARK_WS_PORT": str(port)})
    assert daemon.ws_port == port
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


async def test_log_lines_are_json_objects(daemon):
    c = await Client.connect(daemon.ws_url)
    await c.ping_pong()
    await c.close()
    assert daemon.stop() == 0
    lines = [line for line in daemon.log_text().splitlines() if line.strip()]
    assert lines, "the daemon logged nothing at DEBUG"
    for line in lines:
        assert isinstance(json.loads(line), dict), line


async def test_sigterm_while_a_callback_is_in_flight_still_cleans_up_and_exits_0(config, start_daemon, fake_service):
    fake_service.set("/full/before_subscribe", ok().delayed(1.0))
    daemon = start_daemon(config, expect_clean_exit=False)
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await c.send_json({"event": "subscribe", "subscription": "full.a"})
    await fake_service.wait_for("/full/before_subscribe")
    daemon.send_signal(signal.SIGTERM)
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, daemon.wait, 10) == 0
    assert fake_service.bodies("/full/on_unsubscribe") == [{"subscription": "full.a", "session_id": SESSION_ID}]


async def test_sigterm_with_many_sessions_exits_0(config, start_daemon, fake_service):
    daemon = start_daemon(config, expect_clean_exit=False)
    clients = [await Client.connect(daemon.ws_url) for _ in range(20)]
    for i, c in enumerate(clients):
        await c.request({"event": "subscribe", "subscription": f"open.t{i % 3}"})
    daemon.send_signal(signal.SIGTERM)
    for c in clients:
        await c.expect_closed(timeout=10)
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, daemon.wait, 10) == 0
