"""scripts/convert_socketshark_config.py: SocketShark config modules -> YAML the daemon accepts.

Run: /usr/bin/python3 -m pytest -q tests/tooling
The daemon's --check validates every converted file (SOCKETSHARK_BINARY,
default build/socketshark).
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "convert_socketshark_config.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BINARY = Path(os.environ.get("SOCKETSHARK_BINARY", ROOT / "build" / "socketshark"))


def clean_env():
    """The environment without SOCKETSHARK_* overrides (they would change what --check sees)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SOCKETSHARK_")}


def convert(source, *extra, env=None):
    result = subprocess.run([sys.executable, str(SCRIPT), str(source), *extra], capture_output=True,
                            text=True, env=env or clean_env(), timeout=60)
    return result


def convert_ok(source, *extra, env=None):
    result = convert(source, *extra, env=env)
    assert result.returncode == 0, result.stderr
    return result


def check_with_daemon(path):
    """--check the converted file. --check also opens the TLS files it names,
    which exist only on the operator's machine: point them at stand-ins here."""
    if not BINARY.exists():
        pytest.fail(f"{BINARY} does not exist: build it first or set SOCKETSHARK_BINARY")
    doc = yaml.safe_load(Path(path).read_text())
    tls_files = [(doc.get("ws_ssl") or {}).get(k) for k in ("cert", "key")] + [(doc.get("http") or {}).get("ssl_cafile")]
    if any(tls_files):
        path = Path(path)
        standin = path.parent / "tls-standin.pem"
        standin.write_text("stand-in for a TLS file\n")
        if doc.get("ws_ssl"):
            doc["ws_ssl"] = {k: str(standin) for k in doc["ws_ssl"]}
        if (doc.get("http") or {}).get("ssl_cafile"):
            doc["http"]["ssl_cafile"] = str(standin)
        path = path.with_name(path.stem + ".check.yaml")
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = subprocess.run([str(BINARY), "-c", str(path), "--check"], capture_output=True, text=True,
                            env=clean_env(), timeout=60)
    assert result.returncode == 0, f"--check refused {path}:\n{result.stderr}\n{Path(path).read_text()}"
    assert "configuration OK" in result.stdout


def test_socketshark_example_config(tmp_path):
    out = tmp_path / "example.yaml"
    result = convert_ok(FIXTURES / "socketshark_example_config.py", "-o", str(out))
    assert result.stdout == ""
    text = out.read_text()
    assert text.startswith("# socketshark configuration converted from the SocketShark settings in ")
    assert "socketshark_example_config.py" in text.splitlines()[0]
    doc = yaml.safe_load(text)
    assert doc == {
        "ws_host": "127.0.0.1",
        "ws_port": 9000,  # "9000" in the module
        "ws_ssl": {},
        "ws_ping": {"interval": 15, "timeout": 15},
        "log": {"level": "INFO", "format": "json", "trace_level": "INFO"},
        "metrics": {"prometheus": {"host": "", "port": 9090}},
        "http": {"timeout": 15, "tries": 3, "wait": 3, "ssl_cafile": None,
                 "rate_limit_reset_header_names": ["X-Rate-Limit-Reset"]},
        "broker": "redis",
        "redis": {"host": "localhost", "port": 6379, "channel_prefix": "", "ping_interval": 10,
                  "ping_timeout": 5},
        "redis_alt": None,
        "authentication": {"ticket": {"validation_url": "http://auth-service/auth/ticket/",
                                      "auth_fields": ["session_id", "user_id"]}},
        "services": {"my_service": {
            "require_authentication": True,
            "authorizer": "http://auth-service/auth/authorizer/",
            "authorizer_fields": ["capabilities"],
            "authorization_renewal_period": 300,
            "authorization_renewal_jitter": 30,
            "extra_fields": ["organization_id"],
            "filter_fields": ["user_id"],
            "before_subscribe": "http://my-service/subscribe/",
            "on_subscribe": "http://my-service/on_subscribe/",
            "on_message": "http://my-service/on_message/",
            "before_unsubscribe": "http://my-service/unsubscribe/",
            "on_unsubscribe": "http://my-service/on_unsubscribe/",
            "heartbeat_period": 30,
            "on_heartbeat": "http://my-service/on_heartbeat/",
        }},
    }
    assert "Not converted" not in text  # nothing dropped
    check_with_daemon(out)


def test_full_config_every_setting(tmp_path):
    result = convert_ok(FIXTURES / "socketshark_full_config.py")
    out = tmp_path / "full.yaml"
    out.write_text(result.stdout)
    doc = yaml.safe_load(result.stdout)

    assert doc["ws_host"] == "0.0.0.0"
    assert doc["ws_port"] == 9443
    assert doc["ws_ssl"] == {"cert": "/etc/ssl/shark.crt", "key": "/etc/ssl/shark.key"}
    assert doc["ws_ping"] == {"interval": 0.5, "timeout": None}
    # Python logging details are dropped, the levels kept (WARN -> WARNING).
    assert doc["log"] == {"level": "WARNING", "format": "json", "trace_level": "DEBUG"}
    assert doc["metrics"] == {"prometheus": {"host": "0.0.0.0", "port": 9191}, "log": {}}
    # The deprecated single header name becomes the list.
    assert doc["http"] == {"timeout": 2.5, "tries": 5, "wait": 0.25,
                           "ssl_cafile": "/etc/ssl/certs/ca-certificates.crt",
                           "rate_limit_reset_header_names": ["Retry-After"]}
    assert doc["broker"] == "redis"
    # Merged with SocketShark's defaults; the password SocketShark never sends is dropped.
    assert doc["redis"] == {"host": "redis.internal", "port": 6380, "db": 2, "channel_prefix": "shark:",
                            "ping_interval": 3, "ping_timeout": 1.5}
    # REDIS_ALT replaces its default (None) without merging, as in SocketShark.
    assert doc["redis_alt"] == {"host": "old-redis.internal", "port": 6379, "channel_prefix": "",
                                "ping_interval": None, "ping_timeout": 5}
    assert doc["authentication"] == {"ticket": {
        "validation_url": "https://user:secret@auth.internal/ticket/",
        "auth_fields": ["session_id", "user_id"]}}
    books = doc["services"]["books"]
    assert set(books) == {
        "require_authentication", "authorizer", "authorizer_fields", "authorization_renewal_period",
        "authorization_renewal_jitter", "extra_fields", "filter_fields", "before_subscribe", "on_subscribe",
        "on_message", "before_unsubscribe", "on_unsubscribe", "on_authorization_change", "heartbeat_period",
        "on_heartbeat"}
    assert books["authorization_renewal_jitter"] == 10.5
    assert books["on_authorization_change"] == "http://books.internal:8000/on_authorization_change/"
    assert doc["services"]["public"] == {"require_authentication": False}
    assert list(doc) == ["ws_host", "ws_port", "ws_ssl", "ws_ping", "log", "metrics", "http", "broker",
                         "redis", "redis_alt", "authentication", "services"]

    # Everything dropped is named in the header comment and on stderr.
    header = result.stdout.split("\nws_host:")[0]
    for dropped in ("LOG.setup_structlog", "LOG.format", "LOG.logger_name", "LOG.trace_logger_prefix",
                    "REDIS.password", "SERVICES.books.comment", "NOT_A_SETTING", "LOG.level: warn written as WARNING"):
        assert dropped in header, dropped
        assert dropped in result.stderr, dropped
    assert "helper_value" not in result.stdout  # lower-case names are not settings
    assert "not-used-by-socketshark" not in result.stdout
    check_with_daemon(out)


def test_star_import_of_defaults_and_mutation(tmp_path):
    module = tmp_path / "shark_settings.py"
    module.write_text(textwrap.dedent("""\
        from socketshark.config_defaults import *

        WS_HOST = "0.0.0.0"
        REDIS["host"] = "redis"
        HTTP["rate_limit_reset_header_names"] = ["Retry-After", "X-Rate-Limit-Reset"]
        METRICS["log"] = {}
        SERVICES["chat"] = {"require_authentication": False}
        """))
    result = convert_ok(module)
    doc = yaml.safe_load(result.stdout)
    assert doc["ws_host"] == "0.0.0.0"
    assert doc["redis"]["host"] == "redis"
    assert doc["redis"]["port"] == 6379
    assert doc["http"]["rate_limit_reset_header_names"] == ["Retry-After", "X-Rate-Limit-Reset"]
    assert doc["metrics"] == {"log": {}}
    assert doc["services"] == {"chat": {"require_authentication": False}}
    assert doc["authentication"] == {}
    assert result.stderr == ""
    out = tmp_path / "out.yaml"
    out.write_text(result.stdout)
    check_with_daemon(out)


def test_dotted_module_name_next_to_a_helper_module(tmp_path):
    # SocketShark takes `-c my_config` with PYTHONPATH=.; imports beside the file work.
    (tmp_path / "shark_urls.py").write_text('BASE = "http://svc:8000"\n')
    (tmp_path / "my_config.py").write_text(textwrap.dedent("""\
        from shark_urls import BASE
        SERVICES = {"svc": {"on_message": BASE + "/on_message/", "require_authentication": False}}
        """))
    by_path = convert_ok(tmp_path / "my_config.py")
    assert yaml.safe_load(by_path.stdout)["services"]["svc"]["on_message"] == "http://svc:8000/on_message/"
    by_name = subprocess.run([sys.executable, str(SCRIPT), "my_config"], capture_output=True, text=True,
                             cwd=tmp_path, env=clean_env(), timeout=60)
    assert by_name.returncode == 0, by_name.stderr
    assert yaml.safe_load(by_name.stdout) == yaml.safe_load(by_path.stdout)


@pytest.mark.parametrize("body, message", [
    ('WS_PORT = "ninety"\n', "WS_PORT: expected a port number"),
    ("SERVICES = {'svc': {'on_message': object()}}\n", "SERVICES.svc.on_message: cannot convert"),
    ("LOG = {'level': 'LOUD'}\n", "LOG.level: unknown logging level"),
    ("REDIS = 'redis://localhost'\n", "REDIS: expected a dict"),
    ("METRICS = {'prometheus': {}}\n", "METRICS.prometheus.port: required"),
])
def test_unconvertible_values_are_refused(tmp_path, body, message):
    module = tmp_path / "bad.py"
    module.write_text(body)
    result = convert(module)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_log_level_none_falls_back_to_info(tmp_path):
    module = tmp_path / "quiet.py"
    module.write_text("LOG = {'level': None}\n")
    result = convert_ok(module)
    assert yaml.safe_load(result.stdout)["log"] == {"format": "json", "trace_level": "INFO"}
    assert "LOG.level: None" in result.stderr


def test_unknown_auth_method_and_backend_are_noted(tmp_path):
    module = tmp_path / "odd.py"
    module.write_text(textwrap.dedent("""\
        BACKEND = "other"
        AUTHENTICATION = {"ticket": {"validation_url": "http://a/t/", "auth_fields": ["user_id"]},
                          "password": {"url": "http://a/p/"}}
        """))
    result = convert_ok(module)
    doc = yaml.safe_load(result.stdout)
    assert doc["authentication"] == {"ticket": {"validation_url": "http://a/t/", "auth_fields": ["user_id"]}}
    assert "AUTHENTICATION.password: dropped" in result.stdout
    assert "BACKEND: 'other' dropped" in result.stdout
    out = tmp_path / "odd.yaml"
    out.write_text(result.stdout)
    check_with_daemon(out)
