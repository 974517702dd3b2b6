"""SPEC §7 "Redis Cluster": `redis.cluster` against a real cluster on loopback.

Three primaries and three replicas (redis-server --cluster-enabled yes, made
with `redis-cli --cluster create`). Tests that only read the topology or move
a slot share one cluster per module (they look every owner up afresh); tests
that kill a node start their own.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from harness import Client, free_port, ok, stop_process, wait_for_port

PREFIX = "pfx:"
PUBLISH_KEY = "cluster-test-key"


# --------------------------------------------------------------------------
# A Redis Cluster on loopback
# --------------------------------------------------------------------------


def cluster_ports(count: int) -> list[int]:
    """Ports for cluster nodes: each port and its bus port (+10000) free.

    Taken below Linux's ephemeral range (32768+), bus ports included, so that
    no client socket of another test grabs one meanwhile."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 22700)
        if any(abs(port - p) < 2 for p in ports):
            continue
        try:
            for candidate in (port, port + 10000):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        ports.append(port)
    return ports


class RedisCluster:
    """`primaries` primaries with one replica each, every process ours (by PID)."""

    def __init__(self, workdir: Path, primaries: int = 3, password: str | None = None) -> None:
        self.workdir = workdir
        self.password = password
        self.ports = cluster_ports(primaries * 2)
        self.primary_count = primaries
        self.procs: dict[int, subprocess.Popen] = {}
        self.logs = []

    # -- lifecycle --------------------------------------------------------

    def start(self) -> "RedisCluster":
        for port in self.ports:
            node_dir = self.workdir / f"node-{port}"
            node_dir.mkdir(parents=True, exist_ok=True)
            log = open(node_dir / "redis.log", "wb")
            self.logs.append(log)
            self.procs[port] = subprocess.Popen(
                [
                    "/usr/bin/redis-server",
                    "--bind", "127.0.0.1",
                    "--port", str(port),
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", f"nodes-{port}.conf",
                    "--cluster-node-timeout", "1000",
                    "--save", "",
                    "--appendonly", "no",
                    "--repl-diskless-sync-delay", "0",
                    "--daemonize", "no",
                    "--dir", str(node_dir),
                    *(["--requirepass", self.password, "--masterauth", self.password] if self.password else []),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for port in self.ports:
            wait_for_port(port, 10, self.procs[port])
        subprocess.run(
            ["/usr/bin/redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
             "--cluster-replicas", "1", "--cluster-yes", *(["-a", self.password] if self.password else [])],
            check=True, capture_output=True, timeout=60,
        )
        self.wait_healthy(timeout=30)
        return self

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_process(proc, signal.SIGTERM, timeout=10)
        for log in self.logs:
            log.close()

    def kill(self, port: int) -> None:
        """SIGKILL one node (by the PID we started it with)."""
        proc = self.procs.pop(port)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    # -- inspection -------------------------------------------------------

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5, password=self.password)

    @property
    def alive(self) -> list[int]:
        return [p for p in self.ports if p in self.procs]

    def slots(self) -> list[tuple[int, int, int, list[int]]]:
        """CLUSTER SLOTS from a live node: (first, last, primary port, replica ports)."""
        for port in self.alive:
            try:
                ranges = self.client(port).execute_command("CLUSTER SLOTS")
            except redis.RedisError:
                continue
            return [(r[0], r[1], r[2][1], [n[1] for n in r[3:]]) for r in ranges]
        raise AssertionError("no cluster node answers CLUSTER SLOTS")

    def primaries(self) -> list[int]:
        return sorted({primary for _, _, primary, _ in self.slots()})

    def owner(self, slot: int) -> int:
        for first, last, primary, _ in self.slots():
            if first <= slot <= last:
                return primary
        raise AssertionError(f"slot {slot} has no owner")

    def replica_of(self, primary: int) -> int:
        for _, _, owner, replicas in self.slots():
            if owner == primary and replicas:
                return replicas[0]
        raise AssertionError(f"{primary} has no replica")

    def keyslot(self, key: str) -> int:
        return int(self.client(self.alive[0]).execute_command("CLUSTER KEYSLOT", key))

    def node_id(self, port: int) -> str:
        node_id = self.client(port).execute_command("CLUSTER MYID")
        return node_id.decode() if isinstance(node_id, bytes) else node_id

    def shard_channels(self, port: int) -> set[str]:
        return {c.decode() for c in self.client(port).execute_command("PUBSUB SHARDCHANNELS")}

    def numsub(self, port: int, channel: str) -> int:
        """Plain (SUBSCRIBE) subscribers of `channel` on one node."""
        return int(self.client(port).pubsub_numsub(channel)[0][1])

    def wait_healthy(self, timeout: float) -> None:
        """cluster_state:ok everywhere, every replica synced, every node agreeing on the slots."""
        deadline = time.monotonic() + timeout
        while True:
            problem = self._health_problem()
            if problem is None:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"cluster not healthy after {timeout} s: {problem}")
            time.sleep(0.1)

    def _health_problem(self) -> str | None:
        views = set()
        for port in self.alive:
            try:
                c = self.client(port)
                if c.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
                    return f"{port}: cluster_state not ok"
                replication = c.info("replication")
                if replication["role"] == "slave" and replication.get("master_link_status") != "up":
                    return f"{port}: replica link not up"
                view = tuple((first, last, primary, tuple(sorted(replicas))) for first, last, primary, replicas in
                             ((r[0], r[1], r[2][1], [n[1] for n in r[3:]]) for r in c.execute_command("CLUSTER SLOTS")))
            except redis.RedisError as exc:
                return f"{port}: {exc}"
            views.add(tuple(sorted(view)))
        if len(views) != 1:
            return "nodes disagree on the slots"
        (view,) = views
        if sum(last - first + 1 for first, last, _, _ in view) != 16384:
            return "not every slot is served"
        if any(not replicas for _, _, _, replicas in view):
            return "a primary has no replica yet"
        return None

    # -- actions ----------------------------------------------------------

    def spublish(self, channel: str, message: dict) -> int:
        """SPUBLISH on the primary owning the channel; returns the receiver count."""
        port = self.owner(self.keyslot(channel))
        return int(self.client(port).execute_command("SPUBLISH", channel, json.dumps(message)))

    def move_slot(self, slot: int, target: int) -> int:
        """Moves an (empty) slot to primary `target` the way redis-cli reshard does; returns the old owner."""
        source = self.owner(slot)
        assert source != target
        source_id, target_id = self.node_id(source), self.node_id(target)
        self.client(target).execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source_id)
        self.client(source).execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target_id)
        self.client(target).execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
        self.client(source).execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
        for port in self.primaries():
            if port not in (source, target):
                self.client(port).execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
        self.wait_healthy(timeout=20)
        return source

    def channel_on(self, primary: int, stem: str, service: str = "open") -> str:
        """A subscription name `<service>.<stem><n>` whose prefixed channel lives on `primary`."""
        for n in range(10000):
            name = f"{service}.{stem}{n}"
            if self.owner(self.keyslot(PREFIX + name)) == primary:
                return name
        raise AssertionError(f"no channel found on {primary}")


class ShardSubscriber:
    """A bare RESP client SSUBSCRIBEd to one channel (redis-py 4.3 has no SSUBSCRIBE)."""

    def __init__(self, port: int, channel: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = self.sock.makefile("rb")
        self.sock.sendall(f"*2\r\n$10\r\nSSUBSCRIBE\r\n${len(channel)}\r\n{channel}\r\n".encode())
        reply = self._read()
        assert reply[0] == b"ssubscribe", reply

    def _read(self):
        line = self.reader.readline()
        if not line:
            raise AssertionError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"*":
            return [self._read() for _ in range(int(rest))]
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.reader.read(size + 2)[:-2]
        if kind == b":":
            return int(rest)
        return rest

    def next_message(self, timeout: float = 5.0) -> dict:
        self.sock.settimeout(timeout)
        while True:
            push = self._read()
            if push[0] == b"smessage":
                return json.loads(push[2])

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


class GarbageNode:
    """A TCP server that answers every connection with fixed bytes, then closes."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(4096)
                    conn.sendall(self.answer)
                    time.sleep(0.2)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)


class LyingNode:
    """A fake cluster node: it claims every slot in CLUSTER SLOTS, answers the
    first PING with +PONG followed by a malformed smessage push, and anything
    after that with bytes that are not RESP."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        slots = (f"*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n$9\r\n127.0.0.1\r\n:{self.port}\r\n"
                 "$4\r\nfake\r\n").encode()
        pinged = False
        with conn:
            try:
                while True:
                    request = conn.recv(65536)
                    if not request:
                        return
                    if b"CLUSTER" in request:
                        conn.sendall(slots)
                    elif b"PING" in request and not pinged:
                        pinged = True
                        conn.sendall(b"+PONG\r\n*3\r\n$8\r\nsmessage\r\n:1\r\n:2\r\n")
                    else:
                        conn.sendall(b"\x00\xff garbage \r\n")
            except OSError:
                return

    def close(self) -> None:
        self.server.close()


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = RedisCluster(tmp_path_factory.mktemp("cluster")).start()
    yield c
    c.stop()


@pytest.fixture
def own_cluster(tmp_path):
    c = RedisCluster(tmp_path / "cluster").start()
    yield c
    c.stop()


@pytest.fixture
def password_cluster(tmp_path):
    c = RedisCluster(tmp_path / "cluster", password="cluster-secret").start()
    yield c
    c.stop()


def cluster_config(config: dict, cluster: RedisCluster, sharded: bool = True, seeds: list[str] | None = None) -> dict:
    config["broker"] = "redis"
    config["redis"] = {
        "channel_prefix": PREFIX,
        "ping_interval": 0.5,
        "ping_timeout": 1,
        "cluster": {"nodes": seeds or [f"127.0.0.1:{cluster.ports[1]}"], "sharded": sharded},
    }
    config["metrics"] = {"prometheus": {"host": "127.0.0.1", "port": free_port()}}
    config["publish_api"] = {"keys": [PUBLISH_KEY]}
    return config


def admin_get(daemon, path: str) -> tuple[int | None, str]:
    url = f"http://127.0.0.1:{daemon.config['metrics']['prometheus']['port']}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None, ""


def is_ready(daemon) -> bool:
    return admin_get(daemon, "/readyz")[0] == 200


async def wait_ready(daemon, ready: bool = True, timeout: float = 20.0) -> float:
    """Waits until /readyz says `ready`; returns the seconds it took."""
    start = time.monotonic()
    while is_ready(daemon) != ready:
        if time.monotonic() - start > timeout:
            raise AssertionError(f"/readyz still {'not ' if ready else ''}ready after {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def metric(daemon, name: str) -> float:
    _, text = admin_get(daemon, "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"metric {name} not found")


def post_publish(daemon, body) -> dict:
    url = f"http://127.0.0.1:{daemon.config['metrics']['prometheus']['port']}/publish"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {PUBLISH_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


async def wait_until(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def subscribe(client: Client, name: str) -> None:
    reply = await client.request({"event": "subscribe", "subscription": name})
    assert reply == {"event": "subscribe", "subscription": name, "status": "ok"}, reply


async def expect_message(client: Client, name: str, data: dict, timeout: float = 5.0) -> None:
    msg = await client.recv_json(timeout)
    assert msg["event"] == "message" and msg["subscription"] == name and msg["data"] == data, msg


def message(name: str, **data) -> dict:
    return {"subscription": name, "data": data}


async def held_subscription(daemon, fake_service, name: str, hold: float) -> Client:
    """A session subscribed to `name` (service "full") that stays subscribed
    for `hold` seconds after the daemon closes it: its event loop is busy
    with an on_message callback the fake service answers late, and the
    session's subscriptions are only removed once that returns."""
    fake_service.set("/full/on_message", ok().delayed(hold))
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await subscribe(c, name)
    await c.send_json({"event": "message", "subscription": name, "data": {}})
    await fake_service.wait_for("/full/on_message")
    return c


async def started(start_daemon, config):
    daemon = start_daemon(config)
    await wait_ready(daemon)
    return daemon


# --------------------------------------------------------------------------
# Sharded pub/sub
# --------------------------------------------------------------------------


async def test_channels_on_every_shard_are_ssubscribed_on_their_primary(cluster, config, start_daemon):
    daemon = await started(start_daemon, cluster_config(config, cluster))
    names = {primary: cluster.channel_on(primary, "every") for primary in cluster.primaries()}
    assert len(names) == 3
    c = await Client.connect(daemon.ws_url)
    for name in names.values():
        await subscribe(c, name)
    for primary, name in names.items():
        assert PREFIX + name in cluster.shard_channels(primary), f"{name} not SSUBSCRIBEd on {primary}"
        assert cluster.numsub(primary, PREFIX + name) == 0, "plain SUBSCRIBE used in sharded mode"
    for primary, name in names.items():
        assert cluster.spublish(PREFIX + name, message(name, shard=primary)) == 1
        await expect_message(c, name, {"shard": primary})
    await c.expect_no_message(0.3)


async def test_hash_tags_place_channels_in_the_tag_slot(cluster, config, start_daemon):
    daemon = await started(start_daemon, cluster_config(config, cluster))
    # Both channels hash "{room7}" only: same slot, same primary.
    names = ["open.{room7}.chat", "open.{room7}.presence"]
    slot = cluster.keyslot("room7")
    assert all(cluster.keyslot(PREFIX + n) == slot for n in names)
    c = await Client.connect(daemon.ws_url)
    for name in names:
        await subscribe(c, name)
    owner = cluster.owner(slot)
    assert {PREFIX + n for n in names} <= cluster.shard_channels(owner)
    for name in names:
        cluster.spublish(PREFIX + name, message(name, tag=True))
        await expect_message(c, name, {"tag": True})


async def test_publish_api_uses_spublish_on_the_owner(cluster, config, start_daemon):
    daemon = await started(start_daemon, cluster_config(config, cluster))
    names = [cluster.channel_on(primary, "api") for primary in cluster.primaries()]
    c = await Client.connect(daemon.ws_url)
    listeners = []
    try:
        for name in names:
            await subscribe(c, name)
            # An SSUBSCRIBE subscriber only ever sees SPUBLISHed messages.
            listeners.append(ShardSubscriber(cluster.owner(cluster.keyslot(PREFIX + name)), PREFIX + name))
        publish_calls = sum(cluster.client(p).info("commandstats").get("cmdstat_publish", {}).get("calls", 0)
                            for p in cluster.primaries())
        assert post_publish(daemon, [message(n, via="api", n=i) for i, n in enumerate(names)]) == {
            "status": "ok", "published": 3}
        # Three shards, three connections: no order between them.
        received = [await c.recv_json() for _ in names]
        assert sorted((m["subscription"], m["data"]["n"]) for m in received) == sorted(
            (name, i) for i, name in enumerate(names))
        for i, (name, listener) in enumerate(zip(names, listeners)):
            assert listener.next_message() == message(name, via="api", n=i)
        assert sum(cluster.client(p).info("commandstats").get("cmdstat_publish", {}).get("calls", 0)
                   for p in cluster.primaries()) == publish_calls, "PUBLISH used in sharded mode"
    finally:
        for listener in listeners:
            listener.close()


async def test_plain_publish_is_not_delivered_in_sharded_mode(cluster, config, start_daemon):
    daemon = await started(start_daemon, cluster_config(config, cluster))
    name = cluster.channel_on(cluster.primaries()[0], "plain")
    c = await Client.connect(daemon.ws_url)
    await subscribe(c, name)
    cluster.client(cluster.primaries()[0]).publish(PREFIX + name, json.dumps(message(name, plain=True)))
    await c.expect_no_message(0.5)
    cluster.spublish(PREFIX + name, message(name, sharded=True))
    await expect_message(c, name, {"sharded": True})


async def test_unsubscribe_sunsubscribes_on_the_owner(cluster, config, start_daemon):
    daemon = await started(start_daemon, cluster_config(config, cluster))
    primary = cluster.primaries()[2]
    name = cluster.channel_on(primary, "unsub")
    c = await Client.connect(daemon.ws_url)
    await subscribe(c, name)
    assert PREFIX + name in cluster.shard_channels(primary)
    await c.request({"event": "unsubscribe", "subscription": name})
    await wait_until(lambda: PREFIX + name not in cluster.shard_channels(primary), "SUNSUBSCRIBE")


# --------------------------------------------------------------------------
# sharded: false
# --------------------------------------------------------------------------


async def test_plain_mode_subscribes_once_and_receives_publish_from_any_node(cluster, config, start_daemon):
    daemon = await started(start_daemon, cluster_config(config, cluster, sharded=False))
    names = [cluster.channel_on(primary, "plainmode") for primary in cluster.primaries()]
    c = await Client.connect(daemon.ws_url)
    for name in names:
        await subscribe(c, name)
    # One node holds every SUBSCRIBE; none is a shard channel.
    holders = [p for p in cluster.alive
               if cluster.numsub(p, PREFIX + names[0]) == 1]
    assert len(holders) == 1, holders
    for p in cluster.alive:
        assert not {PREFIX + n for n in names} & cluster.shard_channels(p)
    # Plain pub/sub is cluster-wide: PUBLISH on any node reaches it.
    for i, port in enumerate(p for p in cluster.alive if p != holders[0]):
        name = names[i % len(names)]
        assert cluster.client(port).publish(PREFIX + name, json.dumps(message(name, node=port))) >= 0
        await expect_message(c, name, {"node": port})
    # SPUBLISH does not reach plain subscribers.
    cluster.spublish(PREFIX + names[0], message(names[0], sharded=True))
    await c.expect_no_message(0.3)


async def test_plain_mode_publish_api_uses_publish(cluster, config, start_daemon):
    daemon = await started(start_daemon, cluster_config(config, cluster, sharded=False))
    name = cluster.channel_on(cluster.primaries()[1], "plainapi")
    c = await Client.connect(daemon.ws_url)
    await subscribe(c, name)

    def publish_calls():
        return sum(cluster.client(p).info("commandstats").get("cmdstat_publish", {}).get("calls", 0)
                   for p in cluster.alive)

    before = publish_calls()
    assert post_publish(daemon, message(name, via="api")) == {"status": "ok", "published": 1}
    await expect_message(c, name, {"via": "api"})
    assert publish_calls() == before + 1


# --------------------------------------------------------------------------
# Topology changes
# --------------------------------------------------------------------------


async def test_slot_migration_resubscribes_on_the_new_owner(cluster, config, start_daemon, fake_service):
    daemon = await started(start_daemon, cluster_config(config, cluster))
    source = cluster.primaries()[0]
    target = cluster.primaries()[1]
    name = cluster.channel_on(source, "migrate", service="full")
    slot = cluster.keyslot(PREFIX + name)
    c = await Client.connect(daemon.ws_url)
    await c.auth()
    await subscribe(c, name)
    await held_subscription(daemon, fake_service, name, hold=3)
    before = metric(daemon, "socketshark_cluster_resubscriptions_total")

    cluster.move_slot(slot, target)

    # The source dropped the subscription (an unsolicited sunsubscribe): the
    # daemon is not ready for a moment, closes its sessions (1012) and
    # resubscribes the channel, still live, on the new owner.
    assert await c.expect_closed() == 1012
    await wait_until(lambda: PREFIX + name in cluster.shard_channels(target), "SSUBSCRIBE on the new owner")
    assert PREFIX + name not in cluster.shard_channels(source)
    assert metric(daemon, "socketshark_cluster_resubscriptions_total") == before + 1
    await wait_ready(daemon)
    # Delivery works for new sessions, without restarting the daemon.
    again = await Client.connect(daemon.ws_url)
    await again.auth()
    await subscribe(again, name)
    assert cluster.spublish(PREFIX + name, message(name, after="migration")) == 1
    await expect_message(again, name, {"after": "migration"})
    assert daemon.running


async def test_stale_topology_follows_moved_for_subscribe_and_publish(cluster, config, start_daemon):
    daemon = await started(start_daemon, cluster_config(config, cluster))
    source, target = cluster.primaries()[2], cluster.primaries()[0]

    # Subscribe: nothing is subscribed in the slot, so the daemon is not told
    # of the move; its SSUBSCRIBE to the old owner gets -MOVED, it re-reads
    # the topology and subscribes on the new owner.
    sub_name = cluster.channel_on(source, "stalesub")
    cluster.move_slot(cluster.keyslot(PREFIX + sub_name), target)
    c = await Client.connect(daemon.ws_url)
    await subscribe(c, sub_name)
    assert PREFIX + sub_name in cluster.shard_channels(target)
    assert cluster.spublish(PREFIX + sub_name, message(sub_name, moved=True)) == 1
    await expect_message(c, sub_name, {"moved": True})
    refusals = [r for r in daemon.log_records() if r.get("message") == "redis cluster refused a subscription"]
    assert refusals and refusals[0]["error"].startswith("MOVED "), refusals

    # Publish API: SPUBLISH to the old owner gets -MOVED and is sent on.
    pub_name = cluster.channel_on(source, "stalepub")
    cluster.move_slot(cluster.keyslot(PREFIX + pub_name), target)
    listener = ShardSubscriber(target, PREFIX + pub_name)
    try:
        assert post_publish(daemon, message(pub_name, moved=True))["published"] == 1
        assert listener.next_message() == message(pub_name, moved=True)
    finally:
        listener.close()
    assert is_ready(daemon)
    assert not [r for r in daemon.log_records() if r.get("message") == "redis cluster refused a publish"]


async def test_bad_seed_nodes_are_skipped_and_never_crash_the_daemon(cluster, config, start_daemon):
    garbage = GarbageNode(b"\x00\xffnot RESP at all\r\n")
    malformed = GarbageNode(b"*2\r\n:5\r\n$3\r\nabc\r\n")  # not a CLUSTER SLOTS answer
    error = GarbageNode(b"-ERR This instance has cluster support disabled\r\n")
    try:
        seeds = [f"127.0.0.1:{n.port}" for n in (garbage, malformed, error)] + [f"127.0.0.1:{cluster.ports[0]}"]
        daemon = await started(start_daemon, cluster_config(config, cluster, seeds=seeds))
        warnings = [r for r in daemon.log_records() if r.get("message") == "some redis cluster nodes did not give the topology"]
        assert len(warnings) == 1, warnings
        problems = warnings[0]["problems"]
        assert "protocol error" in problems and "malformed" in problems and "cluster support disabled" in problems
        name = cluster.channel_on(cluster.primaries()[0], "seeds")
        c = await Client.connect(daemon.ws_url)
        await subscribe(c, name)
        cluster.spublish(PREFIX + name, message(name, ok=1))
        await expect_message(c, name, {"ok": 1})
    finally:
        for node in (garbage, malformed, error):
            node.close()


async def test_garbage_from_a_node_in_the_topology_never_crashes_the_daemon(config, start_daemon):
    node = LyingNode()
    try:
        config = cluster_config(config, None, seeds=[f"127.0.0.1:{node.port}"])
        config["redis"]["ping_interval"] = 0.2
        daemon = start_daemon(config)
        # The link comes up (+PONG), then a malformed push, then garbage.
        await wait_until(lambda: any(r.get("message") == "malformed message push from a redis cluster node"
                                     for r in daemon.log_records()), "the malformed push to be logged")
        await wait_until(lambda: any(r.get("message") == "redis cluster node unavailable"
                                     and "protocol error" in r.get("error", "") for r in daemon.log_records()),
                         "the protocol error to be logged")
        c = await Client.connect(daemon.ws_url)
        await c.send_json({"event": "subscribe", "subscription": "open.anything"})
        await asyncio.sleep(1.0)  # reconnects, gets garbage again, backs off
        assert daemon.running
        # The node answers each new link's first PING before its garbage, so
        # readiness may flicker on for an instant: it must be off again soon.
        await wait_until(lambda: not is_ready(daemon), "readiness to be false")
        unavailable = [r for r in daemon.log_records() if r.get("message") == "redis cluster node unavailable"]
        assert len(unavailable) == 1, "logged once, not once per reconnection"
        retries = [r for r in daemon.log_records() if r.get("message") == "redis cluster node still unavailable"]
        assert 1 <= len(retries) <= 15, f"{len(retries)} reconnections: the backoff does not hold"
    finally:
        node.close()


async def test_unreachable_cluster_is_not_ready_until_it_answers(config, start_daemon, tmp_path):
    ports = cluster_ports(1)
    config = cluster_config(config, None, seeds=[f"127.0.0.1:{ports[0]}"])  # nothing listens there
    daemon = start_daemon(config)
    await asyncio.sleep(1.0)
    assert not is_ready(daemon)
    errors = [r for r in daemon.log_records() if r.get("message") == "redis cluster topology unavailable from every node"]
    assert len(errors) == 1, "logged once per outage, not per retry"
    assert daemon.running


# --------------------------------------------------------------------------
# Failover (own cluster: a node is killed)
# --------------------------------------------------------------------------


async def test_failover_resubscribes_and_readiness_follows(own_cluster, config, start_daemon, fake_service):
    cluster = own_cluster
    config["http"]["timeout"] = 20  # the held on_message callback below
    daemon = await started(start_daemon, cluster_config(config, cluster, seeds=[f"127.0.0.1:{cluster.ports[2]}"]))
    victim = cluster.primaries()[0]
    replica = cluster.replica_of(victim)
    names = {primary: cluster.channel_on(primary, "failover") for primary in cluster.primaries()}
    c = await Client.connect(daemon.ws_url)
    for name in names.values():
        await subscribe(c, name)
    held_name = cluster.channel_on(victim, "failoverheld", service="full")
    await held_subscription(daemon, fake_service, held_name, hold=10)
    before = metric(daemon, "socketshark_cluster_resubscriptions_total")

    cluster.kill(victim)

    # The lost shard connection makes the daemon unready at once.
    await wait_ready(daemon, ready=False, timeout=3)
    assert await c.expect_closed() == 1012
    # The replica takes over (cluster-node-timeout 1 s); the daemon finds it,
    # resubscribes the channel still live there and is ready again.
    took = await wait_ready(daemon, ready=True, timeout=20)
    await wait_until(lambda: cluster.owner(cluster.keyslot(PREFIX + held_name)) == replica, "failover")
    assert PREFIX + held_name in cluster.shard_channels(replica)
    assert metric(daemon, "socketshark_cluster_resubscriptions_total") == before + 1
    records = daemon.log_records()
    assert [r["node"] for r in records if r.get("message") == "redis cluster node unavailable"] == [
        f"127.0.0.1:{victim}"], "the lost node is logged once, not once per retry"
    print(f"ready again {took:.2f} s after the primary was killed")

    again = await Client.connect(daemon.ws_url)
    for name in names.values():
        await subscribe(again, name)
    for name in names.values():
        assert cluster.spublish(PREFIX + name, message(name, resumed=True)) == 1
        await expect_message(again, name, {"resumed": True})
    assert daemon.running


async def test_plain_mode_moves_to_another_node_when_its_node_dies(own_cluster, config, start_daemon):
    cluster = own_cluster
    daemon = await started(start_daemon, cluster_config(config, cluster, sharded=False,
                                                        seeds=[f"127.0.0.1:{p}" for p in cluster.ports]))
    name = cluster.channel_on(cluster.primaries()[0], "plainloss")
    c = await Client.connect(daemon.ws_url)
    await subscribe(c, name)
    (holder,) = [p for p in cluster.alive if cluster.numsub(p, PREFIX + name) == 1]

    cluster.kill(holder)

    assert await c.expect_closed() == 1012
    # Plain pub/sub works on any node: no need to wait for a failover.
    await wait_ready(daemon, ready=True, timeout=10)
    again = await Client.connect(daemon.ws_url)
    await subscribe(again, name)
    (new_holder,) = [p for p in cluster.alive if cluster.numsub(p, PREFIX + name) == 1]
    assert new_holder != holder
    publisher = next(p for p in cluster.alive if p != new_holder)
    cluster.client(publisher).publish(PREFIX + name, json.dumps(message(name, moved=True)))
    await expect_message(again, name, {"moved": True})


# --------------------------------------------------------------------------
# AUTH
# --------------------------------------------------------------------------


async def test_password_is_sent_to_every_node(password_cluster, config, start_daemon):
    cluster = password_cluster
    config = cluster_config(config, cluster)
    config["redis"]["password"] = cluster.password
    daemon = await started(start_daemon, config)
    names = [cluster.channel_on(primary, "auth") for primary in cluster.primaries()]
    c = await Client.connect(daemon.ws_url)
    for name in names:
        await subscribe(c, name)
    for name in names:
        cluster.spublish(PREFIX + name, message(name, auth=True))
        await expect_message(c, name, {"auth": True})
    assert post_publish(daemon, message(names[0], via="api"))["published"] == 1
    await expect_message(c, names[0], {"via": "api"})


async def test_wrong_password_is_not_ready_and_logged_once(password_cluster, config, start_daemon):
    cluster = password_cluster
    config = cluster_config(config, cluster)
    config["redis"]["password"] = "not-the-password-42"
    daemon = start_daemon(config)
    await asyncio.sleep(1.5)
    assert not is_ready(daemon)
    errors = [r for r in daemon.log_records() if r.get("message") == "redis cluster topology unavailable from every node"]
    assert len(errors) == 1 and "AUTH failed: WRONGPASS" in errors[0]["tried"], errors
    assert "not-the-password-42" not in daemon.log_text()
    assert daemon.running
