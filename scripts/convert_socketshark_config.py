#!/usr/bin/python3
"""Convert a SocketShark configuration module into a socketshark-cpp YAML file.

SocketShark reads its settings from a Python module (``socketshark -c
my_config``): UPPERCASE globals such as ``WS_PORT`` or ``SERVICES`` that
override ``socketshark/config_defaults.py`` (a dict setting is merged into the
default with ``dict.update``, anything else replaces it; names that are not
SocketShark settings are ignored). This script loads the module the same way,
merges it with SocketShark's defaults and writes the equivalent YAML:
lower-case keys, ``WS_PORT`` as an integer, ``broker: redis``.

    /usr/bin/python3 scripts/convert_socketshark_config.py my_config.py -o config.yaml
    build/socketshark -c config.yaml --check

The module is executed (it is the operator's own file, and it may compute
values, e.g. from ``os.environ``) in a fresh namespace with its directory on
``sys.path``; ``import socketshark.config_defaults`` / ``socketshark.types``
work even where SocketShark is not installed.

Settings that have no equivalent (Python logging details, unknown keys) are
dropped and listed in a comment at the top of the output, and on stderr.
Needs only Debian's python3 and python3-yaml.
"""

import argparse
import copy
import importlib
import os
import runpy
import sys
import types

import yaml

# socketshark/config_defaults.py, as SocketShark ships it.
SOCKETSHARK_DEFAULTS = {
    "BACKEND": "websockets",
    "LOG": {
        "setup_structlog": True,
        "level": "INFO",
        "format": "%(message)s",
        "logger_name": "socketshark",
        "trace_logger_prefix": "trace",
        "trace_level": "INFO",
    },
    "METRICS": {},
    "WS_HOST": "127.0.0.1",
    "WS_PORT": "9000",
    "WS_SSL": {},
    "WS_PING": {"interval": 15, "timeout": 15},
    "HTTP": {
        "ssl_cafile": None,
        "timeout": 15,
        "tries": 3,
        "wait": 3,
        "rate_limit_reset_header_name": "X-Rate-Limit-Reset",
        "rate_limit_reset_header_names": [],
    },
    "REDIS": {
        "host": "localhost",
        "port": 6379,
        "channel_prefix": "",
        "ping_interval": 10,
        "ping_timeout": 5,
    },
    "REDIS_ALT": None,
    "AUTHENTICATION": {},
    "SERVICES": {},
}

SERVICE_KEYS = (
    "require_authentication",
    "authorizer",
    "authorizer_fields",
    "authorization_renewal_period",
    "authorization_renewal_jitter",
    "extra_fields",
    "filter_fields",
    "before_subscribe",
    "on_subscribe",
    "on_message",
    "before_unsubscribe",
    "on_unsubscribe",
    "on_authorization_change",
    "heartbeat_period",
    "on_heartbeat",
)
# Keys SocketShark reads from each REDIS / REDIS_ALT dict.
REDIS_KEYS = ("host", "port", "db", "channel_prefix", "ping_interval", "ping_timeout")
# Python logging level names and what socketshark-cpp calls them.
LOG_LEVELS = {
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARNING": "WARNING",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "CRITICAL": "CRITICAL",
    "FATAL": "CRITICAL",
    "NOTSET": "DEBUG",
}


class ConversionError(Exception):
    """The module holds a value that has no YAML equivalent."""


class Converter:
    def __init__(self):
        self.notes = []

    def note(self, text):
        self.notes.append(text)

    # -- plain values --------------------------------------------------------

    def plain(self, value, path):
        """A Python value as YAML can hold it (tuples and sets become lists)."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ConversionError(f"{path}: key {key!r} is not a string")
                out[key] = self.plain(item, f"{path}.{key}")
            return out
        if isinstance(value, (list, tuple)):
            return [self.plain(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, (set, frozenset)):
            return sorted(self.plain(item, f"{path}[]") for item in value)
        raise ConversionError(f"{path}: cannot convert a {type(value).__name__} ({value!r})")

    def section(self, value, name):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConversionError(f"{name}: expected a dict, got {type(value).__name__}")
        return value

    def port(self, value, path):
        if isinstance(value, bool):
            raise ConversionError(f"{path}: expected a port number, got {value!r}")
        try:
            return int(str(value).strip()) if isinstance(value, (str, int)) else int(value)
        except (TypeError, ValueError):
            raise ConversionError(f"{path}: expected a port number, got {value!r}") from None

    def pick(self, source, keys, path):
        """The known keys of a dict, in `keys` order; the others are noted."""
        out = {}
        for key in keys:
            if key in source:
                out[key] = self.plain(source[key], f"{path}.{key}")
        for key in source:
            if key not in keys:
                self.note(f"{path}.{key}: dropped (not a SocketShark setting)")
        return out

    # -- sections ------------------------------------------------------------

    def log(self, log):
        out = {}
        level = log.get("level")
        if level is None:
            self.note("LOG.level: None (SocketShark: no logging set-up) has no equivalent; "
                      "using INFO")
        else:
            out["level"] = self.level(level, "LOG.level")
        out["format"] = "json"
        trace_level = log.get("trace_level", "INFO")
        if trace_level is not None:
            out["trace_level"] = self.level(trace_level, "LOG.trace_level")
        python_only = [key for key in ("setup_structlog", "format", "logger_name", "trace_logger_prefix")
                       if key in log and log[key] != SOCKETSHARK_DEFAULTS["LOG"][key]]
        for key in python_only:
            self.note(f"LOG.{key}: dropped (Python logging detail; socketshark-cpp writes "
                      "one JSON object per line, or log.format: console)")
        for key in log:
            if key not in ("level", "trace_level", "setup_structlog", "format", "logger_name",
                           "trace_logger_prefix"):
                self.note(f"LOG.{key}: dropped (not a SocketShark setting)")
        return out

    def level(self, value, path):
        name = str(value).upper()
        if name not in LOG_LEVELS:
            raise ConversionError(f"{path}: unknown logging level {value!r}")
        if LOG_LEVELS[name] != name:
            self.note(f"{path}: {value} written as {LOG_LEVELS[name]}")
        return LOG_LEVELS[name]

    def metrics(self, metrics):
        out = {}
        for provider, settings in metrics.items():
            settings = self.section(settings, f"METRICS.{provider}")
            if provider == "prometheus":
                prometheus = {"host": self.plain(settings.get("host", ""), "METRICS.prometheus.host")}
                if settings.get("port") is None:
                    raise ConversionError("METRICS.prometheus.port: required by SocketShark")
                prometheus["port"] = self.port(settings["port"], "METRICS.prometheus.port")
                for key in settings:
                    if key not in ("host", "port"):
                        self.note(f"METRICS.prometheus.{key}: dropped (not a SocketShark setting)")
                out["prometheus"] = prometheus
            elif provider == "log":
                out["log"] = {}
                if settings:
                    self.note("METRICS.log: its settings are dropped (the log provider takes none)")
            else:
                self.note(f"METRICS.{provider}: dropped (unknown metrics provider)")
        return out

    def http(self, http):
        header_keys = ("rate_limit_reset_header_name", "rate_limit_reset_header_names")
        out = self.pick(http, ("timeout", "tries", "wait", "ssl_cafile") + header_keys, "HTTP")
        for key in header_keys:
            out.pop(key, None)
        # SocketShark: names = rate_limit_reset_header_names or [rate_limit_reset_header_name]
        names = self.plain(http.get("rate_limit_reset_header_names") or [], "HTTP.rate_limit_reset_header_names")
        if not names:
            single = http.get("rate_limit_reset_header_name")
            names = [self.plain(single, "HTTP.rate_limit_reset_header_name")] if single else []
        if names:
            out["rate_limit_reset_header_names"] = names
        return out

    def redis(self, redis, name):
        source = {key: value for key, value in redis.items() if key != "password"}
        out = self.pick(source, REDIS_KEYS, name)
        if "port" in out:
            out["port"] = self.port(out["port"], f"{name}.port")
        if "password" in redis:
            self.note(f"{name}.password: dropped (SocketShark never sends it); set "
                      f"{name.lower()}.password by hand if your Redis needs AUTH")
        return out

    def authentication(self, authentication):
        out = {}
        for method, settings in authentication.items():
            if method == "ticket":
                settings = self.section(settings, "AUTHENTICATION.ticket")
                out["ticket"] = self.pick(settings, ("validation_url", "auth_fields"),
                                          "AUTHENTICATION.ticket")
            else:
                self.note(f"AUTHENTICATION.{method}: dropped (SocketShark supports only ticket)")
        return out

    def services(self, services):
        out = {}
        for name, settings in services.items():
            settings = self.section(settings, f"SERVICES.{name}")
            out[str(name)] = self.pick(settings, SERVICE_KEYS, f"SERVICES.{name}")
        return out

    # -- whole file ------------------------------------------------------------

    def convert(self, config):
        doc = {}
        doc["ws_host"] = self.plain(config["WS_HOST"], "WS_HOST")
        doc["ws_port"] = self.port(config["WS_PORT"], "WS_PORT")
        ws_ssl = self.section(config["WS_SSL"], "WS_SSL")
        doc["ws_ssl"] = self.pick(ws_ssl, ("cert", "key"), "WS_SSL") if ws_ssl else {}
        doc["ws_ping"] = self.pick(self.section(config["WS_PING"], "WS_PING"), ("interval", "timeout"), "WS_PING")
        doc["log"] = self.log(self.section(config["LOG"], "LOG"))
        doc["metrics"] = self.metrics(self.section(config["METRICS"], "METRICS"))
        doc["http"] = self.http(self.section(config["HTTP"], "HTTP"))
        doc["broker"] = "redis"
        doc["redis"] = self.redis(self.section(config["REDIS"], "REDIS"), "REDIS")
        if config["REDIS_ALT"]:
            doc["redis_alt"] = self.redis(self.section(config["REDIS_ALT"], "REDIS_ALT"), "REDIS_ALT")
        else:
            doc["redis_alt"] = None
        doc["authentication"] = self.authentication(self.section(config["AUTHENTICATION"], "AUTHENTICATION"))
        doc["services"] = self.services(self.section(config["SERVICES"], "SERVICES"))
        backend = config.get("BACKEND")
        if backend != "websockets":
            self.note(f"BACKEND: {backend!r} dropped (socketshark-cpp has one WebSocket server)")
        return doc


# -- loading the module ----------------------------------------------------------

def _shim_modules(defaults):
    """Stand-ins for socketshark, socketshark.config_defaults and socketshark.types."""
    package = types.ModuleType("socketshark")
    package.__path__ = []
    config_defaults = types.ModuleType("socketshark.config_defaults")
    for key, value in copy.deepcopy(defaults).items():
        setattr(config_defaults, key, value)
    type_names = ("Config", "ServiceConfig", "AuthConfig", "RedisSettings", "HttpOptions", "LogConfig",
                  "WsPingConfig", "WsSslConfig", "MetricsProviderConfig")
    types_module = types.ModuleType("socketshark.types")
    for name in type_names:
        setattr(types_module, name, dict)
    package.config_defaults = config_defaults
    package.types = types_module
    return {"socketshark": package, "socketshark.config_defaults": config_defaults,
            "socketshark.types": types_module}


def load_settings(source):
    """Runs the module and returns (its UPPERCASE globals, a display name)."""
    shims = _shim_modules(SOCKETSHARK_DEFAULTS)
    saved_modules = {name: sys.modules.get(name) for name in shims}
    saved_path = list(sys.path)
    try:
        # Always the stand-ins, even where SocketShark is installed: the result
        # must not depend on what else the machine has.
        sys.modules.update(shims)
        if os.path.exists(source):
            sys.path.insert(0, os.path.dirname(os.path.abspath(source)))
            namespace = runpy.run_path(source, run_name="socketshark_config")
        else:  # a dotted module name, as `socketshark -c my_config` takes it
            sys.path.insert(0, os.getcwd())
            namespace = vars(importlib.import_module(source))
    finally:
        sys.path[:] = saved_path
        for name, module in saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return {key: value for key, value in namespace.items() if key.isupper()}


def merge_with_defaults(module_settings, converter):
    """SocketShark's load_config: dict settings are update()d, others replaced."""
    config = copy.deepcopy(SOCKETSHARK_DEFAULTS)
    for key, value in module_settings.items():
        if key not in config:
            converter.note(f"{key}: ignored (not a SocketShark setting; SocketShark ignores it too)")
            continue
        if isinstance(config[key], dict):
            if not isinstance(value, dict):
                raise ConversionError(f"{key}: expected a dict, got {type(value).__name__}")
            config[key].update(value)
        else:
            config[key] = value
    return config


def render(doc, source, notes):
    lines = [
        f"# socketshark configuration converted from the SocketShark settings in {source}",
        "# by scripts/convert_socketshark_config.py (merged with SocketShark's defaults).",
        "# Validate with: socketshark -c THIS_FILE --check",
    ]
    if notes:
        lines.append("#")
        lines.append("# Not converted:")
        lines.extend(f"#   {note}" for note in notes)
    header = "\n".join(lines) + "\n"
    body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
    return header + body


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Convert a SocketShark Python configuration module into socketshark-cpp YAML.")
    parser.add_argument("config", help="SocketShark config module: a .py file or a dotted module name")
    parser.add_argument("-o", "--output", help="write the YAML here (default: standard output)")
    args = parser.parse_args(argv)

    converter = Converter()
    try:
        settings = load_settings(args.config)
        doc = converter.convert(merge_with_defaults(settings, converter))
    except ConversionError as error:
        print(f"convert_socketshark_config: {args.config}: {error}", file=sys.stderr)
        return 2
    text = render(doc, args.config, converter.notes)
    for note in converter.notes:
        print(f"convert_socketshark_config: note: {note}", file=sys.stderr)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
