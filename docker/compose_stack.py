#!/usr/bin/python3
"""Runs docker/docker-compose.yml's stack with podman and chats through it.

Called by docker/test.sh after the image checks. The compose file is the one
operators use; this script runs its services the way compose would (images
built from each `build`, `command`, `environment`, bind `volumes`, `ulimits`,
`depends_on` order) with one difference: every container shares the host's
network (`--network host`) and listens on 127.0.0.1 on free ports, so that
no traffic leaves loopback (podman-compose 1.0.3 mishandles host networking).
So the compose network's names become 127.0.0.1 and its ports free ones:

  - "<service>:<port>" in commands and environment -> "127.0.0.1:<free port>";
  - an environment value equal to a service name (SOCKETSHARK_REDIS__HOST:
    redis) -> 127.0.0.1, and its sibling ..._PORT is set to that service's port;
  - "0.0.0.0" -> "127.0.0.1";
  - how each service takes its own port is in LISTENS below.

Then, as a user of the stack would: two WebSocket clients get tickets from the
chat service, authenticate, join a room (authorizer, before_subscribe,
on_subscribe), and a line one of them sends goes through on_message, the chat
service, Redis and the daemon to the other. Last, `podman stop` ends the
daemon with exit code 0.

  docker/compose_stack.py [--keep-going]   (as root, with podman; see docker/test.sh)
"""
from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import websockets
import yaml

HERE = Path(__file__).resolve().parent
COMPOSE = HERE / "docker-compose.yml"
PREFIX = f"socketshark-compose-{os.getpid()}"

# The ports each service listens on inside the compose network, and how to
# move them: ("arg", flag) replaces the value after `flag` in the command (or
# appends both), ("env", NAME) sets an environment variable.
LISTENS = {
    "redis": {6379: ("arg", "--port")},
    "chat": {8000: ("arg", "--port")},
    "socketshark": {9000: ("env", "SOCKETSHARK_WS_PORT"), 9090: ("env", "SOCKETSHARK_METRICS__PROMETHEUS__PORT")},
}


def log(message: str) -> None:
    print(f"compose_stack: {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def podman(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    # runc and explicit ulimits: crun and the default ulimits fail in some sandboxes.
    command = ["podman", "--runtime", "runc", *args]
    result = subprocess.run(command, text=True, capture_output=capture, timeout=1800)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])} ... failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def start_order(services: dict) -> list[str]:
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...] = ()) -> None:
        if name in order:
            return
        if name in path:
            raise RuntimeError(f"depends_on cycle: {' -> '.join(path + (name,))}")
        for dependency in services[name].get("depends_on", []):
            visit(dependency, path + (name,))
        order.append(name)

    for name in services:
        visit(name)
    return order


class Stack:
    def __init__(self, compose: dict):
        self.services: dict = compose["services"]
        unknown = set(self.services) - set(LISTENS)
        if unknown:
            raise RuntimeError(f"compose services without a LISTENS entry here: {sorted(unknown)}")
        self.ports = {(name, port): free_port() for name, listens in LISTENS.items() for port in listens}
        self.containers: dict[str, str] = {}

    def rewrite(self, text: str) -> str:
        for (service, port), free in self.ports.items():
            text = text.replace(f"{service}:{port}", f"127.0.0.1:{free}")
        return text.replace("0.0.0.0", "127.0.0.1")

    def port_of(self, service: str) -> int:
        return next(free for (name, _), free in self.ports.items() if name == service)

    def environment(self, name: str) -> dict[str, str]:
        spec = self.services[name].get("environment", {})
        if isinstance(spec, list):
            spec = dict(item.split("=", 1) for item in spec)
        env = {}
        for key, value in spec.items():
            value = str(value)
            if value in self.services:  # a host name of the compose network
                env[key] = "127.0.0.1"
                if key.endswith("__HOST"):
                    env[key[: -len("HOST")] + "PORT"] = str(self.port_of(value))
            else:
                env[key] = self.rewrite(value)
        return env

    def command(self, name: str, image: str) -> list[str]:
        command = self.services[name].get("command")
        if isinstance(command, str):
            command = command.split()
        return [self.rewrite(str(part)) for part in command] if command else []

    def build(self) -> None:
        built = set()
        for name, service in self.services.items():
            image, build = service["image"], service.get("build")
            if not build or image in built:
                continue
            context = (HERE / build["context"]).resolve()
            started = time.monotonic()
            podman("build", "--pull=never", "--network", "host", "--isolation", "chroot", "--format", "docker",
                   "-t", image, "-f", str(context / build["dockerfile"]), str(context))
            built.add(image)
            log(f"built {image} in {time.monotonic() - started:.0f} s")

    def start(self, name: str) -> None:
        service = self.services[name]
        env = self.environment(name)
        command = self.command(name, service["image"])
        for port, (kind, where) in LISTENS[name].items():
            free = str(self.ports[(name, port)])
            if kind == "env":
                env[where] = free
            elif where in command:
                command[command.index(where) + 1] = free
            else:
                command += [where, free]
        args = ["run", "-d", "--name", f"{PREFIX}-{name}", "--network", "host", "--health-interval", "disable"]
        # A container cannot raise a limit above this process's hard limit
        # (runc fails with "error setting rlimit"): cap the file's value there.
        nofile = service.get("ulimits", {}).get("nofile", {"soft": 20000, "hard": 20000})
        host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        hard = min(int(nofile["hard"]), host_hard) if host_hard != resource.RLIM_INFINITY else int(nofile["hard"])
        soft = min(int(nofile["soft"]), hard)
        if (soft, hard) != (int(nofile["soft"]), int(nofile["hard"])):
            log(f"{name}: ulimit nofile {nofile['soft']}:{nofile['hard']} capped at this machine's hard limit: {soft}:{hard}")
        args += ["--ulimit", f"nofile={soft}:{hard}", "--ulimit", "nproc=4096:4096"]
        for volume in service.get("volumes", []):
            source, target, *mode = volume.split(":")
            source_path = (HERE / source).resolve()
            if not source_path.exists():
                raise RuntimeError(f"{name}: volume source {source_path} does not exist")
            args += ["-v", ":".join([str(source_path), target, *mode])]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        grace = str(service.get("stop_grace_period", "10s")).rstrip("s")
        args += ["--stop-timeout", grace, service["image"], *command]
        self.containers[name] = podman(*args).stdout.strip()
        log(f"started {name}: ports {[self.ports[(name, p)] for p in LISTENS[name]]}")

    def running(self, name: str) -> bool:
        state = podman("inspect", "--format", "{{.State.Running}}", f"{PREFIX}-{name}", check=False)
        return state.stdout.strip() == "true"

    def logs(self, name: str) -> str:
        result = podman("logs", f"{PREFIX}-{name}", check=False)
        return (result.stdout + result.stderr)[-4000:]

    def remove(self) -> None:
        for name in reversed(list(self.containers)):
            podman("rm", "-f", f"{PREFIX}-{name}", check=False)


def http(url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def wait_until(check, what: str, stack: Stack, watched: list[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        for name in watched:
            if not stack.running(name):
                raise RuntimeError(f"{name} stopped while waiting for {what}:\n{stack.logs(name)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.3)


async def chat(ws_url: str, chat_url: str) -> None:
    async def next_frame(ws, accept, what: str) -> dict:
        """The next frame `accept` takes; room traffic (presence, lines) in between is skipped."""
        deadline = time.monotonic() + 10
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"no {what} within 10 s")
            frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
            if accept(frame):
                return frame

    async def join(name: str):
        status, body = http(f"{chat_url}/ticket", {"name": name})
        assert status == 200, (status, body)
        ticket = json.loads(body)["ticket"]
        ws = await websockets.connect(ws_url, open_timeout=10)
        await ws.send(json.dumps({"event": "auth", "method": "ticket", "ticket": ticket}))
        reply = await next_frame(ws, lambda f: f.get("event") == "auth", "auth reply")
        assert reply == {"event": "auth", "status": "ok"}, reply
        await ws.send(json.dumps({"event": "subscribe", "subscription": "chat.lobby", "client_id": f"{name}-tab"}))
        reply = await next_frame(ws, lambda f: f.get("event") == "subscribe", "subscribe reply")
        assert reply["status"] == "ok" and "history" in reply["data"], reply
        return ws

    ada = await join("ada")
    bob = await join("bob")
    try:
        await ada.send(json.dumps({"event": "message", "subscription": "chat.lobby",
                                   "data": {"text": "hello from compose"}}))
        # on_message's answer comes back as the reply: the line's id.
        reply = await next_frame(ada, lambda f: f.get("event") == "message" and "id" in f.get("data", {})
                                 and "type" not in f["data"], "on_message reply")
        assert reply["subscription"] == "chat.lobby" and isinstance(reply["data"]["id"], int), reply
        # The chat service PUBLISHed the line to Redis; the daemon delivers it to bob.
        line = await next_frame(bob, lambda f: f.get("event") == "message" and f.get("data", {}).get("type") == "line",
                                "the chat line")
        assert line["subscription"] == "chat.lobby", line
        assert line["data"]["user"] == "ada" and line["data"]["text"] == "hello from compose", line
        assert line["data"]["id"] == reply["data"]["id"], (line, reply)
    finally:
        await ada.close()
        await bob.close()


def main() -> int:
    compose = yaml.safe_load(COMPOSE.read_text())
    stack = Stack(compose)
    started = time.monotonic()
    try:
        stack.build()
        for name in start_order(stack.services):
            stack.start(name)
        chat_url = f"http://127.0.0.1:{stack.ports[('chat', 8000)]}"
        admin_url = f"http://127.0.0.1:{stack.ports[('socketshark', 9090)]}"
        ws_url = f"ws://127.0.0.1:{stack.ports[('socketshark', 9000)]}/"
        everything = list(stack.containers)
        wait_until(lambda: http(f"{chat_url}/config.json")[0] == 200, "the chat service", stack, everything)
        wait_until(lambda: http(f"{admin_url}/readyz")[0] == 200, "socketshark ready (Redis connected)", stack,
                   everything)
        log("the chat service answers; socketshark is ready on Redis")

        asyncio.run(chat(ws_url, chat_url))
        log("ticket auth, authorizer, join, and a line through on_message -> Redis -> the other client: ok")

        metrics = http(f"{admin_url}/metrics")[1].decode()
        for needle in ('socketshark_event_success_counter{event="message",status="success"} 1',
                       "socketshark_service_state 1"):
            if needle not in metrics:
                raise RuntimeError(f"/metrics has no {needle!r}")

        podman("stop", "-t", "20", f"{PREFIX}-socketshark")
        code = podman("inspect", "--format", "{{.State.ExitCode}}", f"{PREFIX}-socketshark").stdout.strip()
        if code != "0":
            raise RuntimeError(f"socketshark exited {code} after SIGTERM:\n{stack.logs('socketshark')}")
        log(f"podman stop: socketshark exit 0; PASS in {time.monotonic() - started:.0f} s")
        return 0
    except Exception as error:  # report with the containers' logs, then clean up
        log(f"FAIL: {error}")
        for name in stack.containers:
            log(f"--- {name} log ---\n{stack.logs(name)}")
        return 1
    finally:
        stack.remove()


if __name__ == "__main__":
    sys.exit(main())
