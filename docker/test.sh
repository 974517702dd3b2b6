#!/usr/bin/env bash
# Builds docker/Dockerfile with podman and checks the image the way an
# operator would use it:
#   - the container runs as the non-root user (uid 10001) with the shipped
#     config, configured only through SOCKETSHARK_* environment overrides;
#   - /healthz and /readyz answer on the admin port and on the WebSocket port;
#   - a WebSocket handshake, ping/pong, subscribe, and a message published
#     through the HTTP publish API and Redis comes back on the socket;
#   - the image's HEALTHCHECK script passes inside the container;
#   - SIGTERM (podman stop) ends the container with exit code 0;
#   - docker-compose.yml's stack (Redis, the example chat service, the
#     daemon) runs from its images and relays a chat line between two
#     clients (docker/compose_stack.py).
# All traffic stays on 127.0.0.1 (--network host, free ports picked here).
#
#   docker/test.sh            # from anywhere; as root (installs podman if missing)
#
# It rebuilds the project inside the image: minutes, not seconds. CI runs it
# after the fast suite. Needs: podman, runc, curl, python3 (+ python3-websockets
# for the WebSocket round trip, redis-server for Redis; both are installed by
# scripts/install-deps.sh --test). The Debian 12 base image is made with debootstrap
# from the machine's apt mirror when it is not present (no registry needed).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${DOCKER_TEST_IMAGE:-localhost/socketshark:test}
BASE=docker.io/library/debian:bookworm-slim
NAME=socketshark-test-$$
WORK=$(mktemp -d /tmp/socketshark-docker-test.XXXXXX)
START=$(date +%s)
REDIS_PID=""

log() { printf 'docker/test.sh: %s\n' "$*"; }
fail() { log "FAIL: $*"; exit 1; }

cleanup() {
  local rc=$?
  if ((rc != 0)) && podman container exists "$NAME" 2>/dev/null; then
    log "container log:"; podman logs "$NAME" 2>&1 | tail -40 || true
  fi
  podman rm -f "$NAME" >/dev/null 2>&1 || true
  [[ -n "$REDIS_PID" ]] && kill "$REDIS_PID" 2>/dev/null || true
  rm -rf "$WORK"
  log "finished in $(( $(date +%s) - START )) s (exit $rc)"
}
trap cleanup EXIT

# --- tools ------------------------------------------------------------------
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  [[ $(id -u) -eq 0 ]] || fail "podman, runc and debootstrap are needed (run as root to install them)"
  log "installing podman, runc, debootstrap"
  apt_get update -qq >/dev/null
  apt_get install -y -qq --no-install-recommends podman runc debootstrap containernetworking-plugins >/dev/null
fi
command -v curl >/dev/null || fail "curl is needed"
# Debian's python3 (python3-websockets), not a python3 earlier in PATH (pyenv, venv).
PYTHON=python3
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3
# runc and explicit ulimits: crun and the default ulimits fail in some sandboxes.
run_podman() { podman --runtime runc "$@"; }

# --- base image -------------------------------------------------------------
if ! podman image exists "$BASE"; then
  MIRROR=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}' || true)
  [[ -n "$MIRROR" ]] || MIRROR=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}' || true)
  [[ -n "$MIRROR" ]] || MIRROR=http://deb.debian.org/debian
  log "making $BASE with debootstrap from $MIRROR"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap failed"; }
  tar -C "$WORK/rootfs" -c . | podman import - "$BASE" >/dev/null
  rm -rf "$WORK/rootfs"
fi

# --- build ------------------------------------------------------------------
log "building $IMAGE (this compiles the daemon: minutes)"
BUILD_START=$(date +%s)
podman build --pull=never --network host --isolation chroot --format docker \
  -t "$IMAGE" -f "$ROOT/docker/Dockerfile" "$ROOT" >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log"; fail "podman build failed"; }
log "built in $(( $(date +%s) - BUILD_START )) s"

[[ $(podman image inspect --format '{{.Config.User}}' "$IMAGE") == "10001:10001" ]] || fail "image does not run as 10001:10001"
podman image inspect --format '{{.Config.Healthcheck}}' "$IMAGE" | grep -q socketshark-healthcheck \
  || fail "image has no HEALTHCHECK"

# --- run --------------------------------------------------------------------
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
WS_PORT=$(free_port)
ADMIN_PORT=$(free_port)
KEY=docker-test-key
ENV=(
  -e SOCKETSHARK_WS_HOST=127.0.0.1 -e SOCKETSHARK_WS_PORT="$WS_PORT"
  -e SOCKETSHARK_METRICS__PROMETHEUS__HOST=127.0.0.1 -e SOCKETSHARK_METRICS__PROMETHEUS__PORT="$ADMIN_PORT"
  -e SOCKETSHARK_SERVICES__DEMO__REQUIRE_AUTHENTICATION=false
  -e SOCKETSHARK_PUBLISH_API__KEYS="[$KEY]"
)
if command -v redis-server >/dev/null; then
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
    >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  ENV+=(-e SOCKETSHARK_REDIS__HOST=127.0.0.1 -e SOCKETSHARK_REDIS__PORT="$REDIS_PORT")
  BROKER="redis on 127.0.0.1:$REDIS_PORT"
else
  ENV+=(-e SOCKETSHARK_BROKER=memory)
  BROKER="memory (no redis-server here)"
fi

log "starting the container: ws $WS_PORT, admin $ADMIN_PORT, broker $BROKER"
# --health-interval disable: keep the image's HEALTHCHECK but start no systemd
# timer for it (none here); the check script is run by hand below.
run_podman run -d --name "$NAME" --network host --health-interval disable \
  --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
  "${ENV[@]}" "$IMAGE" >/dev/null 2>"$WORK/run.err" || { cat "$WORK/run.err"; fail "podman run failed"; }

wait_for() {  # URL EXPECTED_STATUS SECONDS
  local deadline=$(( $(date +%s) + $3 )) status
  while true; do
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)
    [[ "$status" == "$2" ]] && return 0
    (( $(date +%s) < deadline )) || fail "$1 answered '$status', expected $2"
    run_podman container exists "$NAME" && [[ $(podman inspect --format '{{.State.Running}}' "$NAME") == true ]] \
      || fail "the container stopped"
    sleep 0.3
  done
}
wait_for "http://127.0.0.1:$ADMIN_PORT/healthz" 200 30
wait_for "http://127.0.0.1:$ADMIN_PORT/readyz" 200 30
wait_for "http://127.0.0.1:$WS_PORT/healthz" 200 5
wait_for "http://127.0.0.1:$WS_PORT/readyz" 200 5
curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -q '^socketshark_service_state 1' || fail "/metrics: not ready"
log "/healthz and /readyz answer 200 on both ports"

[[ $(run_podman exec "$NAME" id -u) == 10001 ]] || fail "the daemon does not run as uid 10001"
run_podman exec "$NAME" /usr/local/bin/socketshark-healthcheck || fail "HEALTHCHECK script failed"
log "runs as uid 10001; HEALTHCHECK passes"

# --- WebSocket ----------------------------------------------------------------
if "$PYTHON" -c 'import websockets' 2>/dev/null; then
  WS_PORT=$WS_PORT ADMIN_PORT=$ADMIN_PORT KEY=$KEY "$PYTHON" - <<'EOF' || fail "WebSocket round trip"
import asyncio, json, os, urllib.request
import websockets

async def main():
    url = f"ws://127.0.0.1:{os.environ['WS_PORT']}/"
    async with websockets.connect(url, open_timeout=5) as ws:
        async def ask(frame):
            await ws.send(json.dumps(frame))
            return json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert await ask({"event": "ping", "data": "docker"}) == {"event": "pong", "data": "docker"}
        reply = await ask({"event": "subscribe", "subscription": "demo.lobby"})
        assert reply == {"event": "subscribe", "status": "ok", "subscription": "demo.lobby"}, reply
        body = json.dumps({"subscription": "demo.lobby", "data": {"hello": "container"}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{os.environ['ADMIN_PORT']}/publish", data=body,
            headers={"Authorization": f"Bearer {os.environ['KEY']}", "Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(request, timeout=5).read())
        assert answer == {"status": "ok", "published": 1}, answer
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert message["event"] == "message" and message["data"] == {"hello": "container"}, message
    print("docker/test.sh: WebSocket handshake, ping/pong, subscribe and a published message: ok")

asyncio.run(main())
EOF
else
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 --http1.1 \
    -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "http://127.0.0.1:$WS_PORT/" || true)
  [[ "$status" == 101 ]] || fail "WebSocket handshake answered '$status', expected 101"
  log "WebSocket handshake: 101 (python3-websockets not installed: no round trip)"
fi

# --- shutdown -------------------------------------------------------------------
run_podman stop -t 20 "$NAME" >/dev/null 2>"$WORK/stop.err" || { cat "$WORK/stop.err"; fail "podman stop failed"; }
code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME")
[[ "$code" == 0 ]] || fail "exit code $code after SIGTERM, expected 0"
podman logs "$NAME" 2>&1 | grep -q '"message":"done"' || fail "no 'done' log line after SIGTERM"
log "SIGTERM: exit 0"

# --- the compose stack ------------------------------------------------------------
# docker-compose.yml's three services (Redis, the example chat service, the
# daemon) from their images, wired by the file's environment overrides, on
# the host network with free loopback ports; a chat line goes through it all.
log "running docker/docker-compose.yml's stack (docker/compose_stack.py)"
"$PYTHON" -c 'import websockets, yaml' 2>/dev/null \
  || fail "the compose stack needs python3-websockets and python3-yaml (scripts/install-deps.sh --test)"
"$PYTHON" "$ROOT/docker/compose_stack.py" || fail "the compose stack"
log "PASS"
