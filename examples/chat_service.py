#!/usr/bin/python3
"""Chat-room backend for socketshark: every service callback, plus the demo page.

Clients subscribe to "chat.<room>". Their chat lines arrive here as
on_message callbacks; this service publishes each line to the room (Redis
PUBLISH on channel "chat.<room>", or the daemon's HTTP publish API with
--publish-url), and socketshark delivers it to every subscriber.

Only Debian packages: python3-aiohttp, python3-redis.

    /usr/bin/python3 examples/chat_service.py --port 8000 --redis-url redis://localhost:6379/0
    /usr/bin/python3 examples/chat_service.py --publish-url http://127.0.0.1:9090/publish --publish-key KEY

Tickets here are "user:<name>" and anyone may ask for one: a demo, not an
identity system. A real service issues one-time random tickets to users it
has authenticated.
"""

import argparse
import asyncio
import collections
import itertools
import json
import logging
import re
import time
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, web

EXAMPLES = Path(__file__).resolve().parent
CLIENT_JS = EXAMPLES.parent / "clients" / "js" / "socketshark.js"

ROOM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
USER_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,32}$")
MAX_TEXT = 500

log = logging.getLogger("chat")


def ok(**fields):
    return web.json_response({"status": "ok", **fields})


def error(text, **fields):
    return web.json_response({"status": "error", "error": text, **fields})


def room_of(subscription):
    """"chat.lobby" -> "lobby", or None for anything that is not a valid room."""
    service, _, room = (subscription or "").partition(".")
    return room if service == "chat" and ROOM_NAME.match(room) else None


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class RedisPublisher:
    """Publishes as SocketShark services always have: PUBLISH on Redis."""

    def __init__(self, url, channel_prefix):
        import redis.asyncio  # only needed in this mode

        self.redis = redis.asyncio.Redis.from_url(url)
        self.channel_prefix = channel_prefix

    async def publish(self, subscription, data):
        message = json.dumps({"subscription": subscription, "data": data})
        await self.redis.publish(self.channel_prefix + subscription, message)

    async def close(self):
        await self.redis.close()


class PublishApiPublisher:
    """Publishes through socketshark's HTTP publish API (works with `broker: memory`)."""

    def __init__(self, url, key):
        self.url = url
        self.key = key
        self.session = ClientSession(timeout=ClientTimeout(total=5))

    async def publish(self, subscription, data):
        headers = {"Authorization": f"Bearer {self.key}"}
        body = {"subscription": subscription, "data": data}
        async with self.session.post(self.url, json=body, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"publish API answered {response.status}: {await response.text()}")

    async def close(self):
        await self.session.close()


class ChatRooms:
    """Recent lines and who is present, per room; all in memory."""

    def __init__(self, publisher, history_size, presence_timeout, muted):
        self.publisher = publisher
        self.history = collections.defaultdict(lambda: collections.deque(maxlen=history_size))
        # room -> client_id -> {"name", "seen"}; keyed by the page's client_id
        # so that a page re-subscribing after a reconnect is not counted twice.
        self.present = collections.defaultdict(dict)
        self.presence_timeout = presence_timeout
        self.muted = set(muted)
        self.line_ids = itertools.count(1)

    def members(self, room):
        return sorted({member["name"] for member in self.present[room].values()})

    async def say(self, room, line):
        self.history[room].append(line)
        await self.publisher.publish(f"chat.{room}", line)

    async def announce_presence(self, room, text):
        await self.say(room, {"type": "system", "id": next(self.line_ids), "text": text, "at": now_iso()})
        await self.publisher.publish(f"chat.{room}", {"type": "presence", "members": self.members(room)})

    async def join(self, room, client_id, name):
        was_present = name in self.members(room)
        self.present[room][client_id] = {"name": name, "seen": time.monotonic()}
        if not was_present:
            await self.announce_presence(room, f"{name} joined")

    async def leave(self, room, client_id):
        member = self.present[room].pop(client_id, None)
        if member and member["name"] not in self.members(room):
            await self.announce_presence(room, f"{member['name']} left")

    def seen(self, room, client_id):
        member = self.present[room].get(client_id)
        if member:
            member["seen"] = time.monotonic()

    async def forget_silent_members(self):
        """Drops members whose heartbeats stopped (their unsubscribe was never
        called, e.g. the daemon was killed and the page closed meanwhile)."""
        deadline = time.monotonic() - self.presence_timeout
        for room, members in list(self.present.items()):
            for client_id, member in list(members.items()):
                if member["seen"] < deadline:
                    await self.leave(room, client_id)


def make_app(args):
    routes = web.RouteTableDef()

    async def body_of(request):
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text="JSON body expected")
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="JSON object expected")
        return body

    def rooms(request) -> ChatRooms:
        return request.app["rooms"]

    # ---- the demo page and the client library ----

    @routes.get("/")
    async def index(request):
        return web.FileResponse(EXAMPLES / "demo" / "index.html")

    @routes.get("/socketshark.js")
    async def client_library(request):
        return web.FileResponse(CLIENT_JS, headers={"Content-Type": "text/javascript"})

    @routes.get("/config.json")
    async def page_config(request):
        # null: the page uses ws://<its own host>:9000.
        return web.json_response({"ws_url": args.ws_url})

    @routes.post("/ticket")
    async def issue_ticket(request):
        name = str((await body_of(request)).get("name", "")).strip()
        if not USER_NAME.match(name):
            return web.json_response({"error": "A name is 1 to 32 printable characters."}, status=400)
        return web.json_response({"ticket": f"user:{name}"})

    # ---- socketshark callbacks ----

    @routes.post("/auth/ticket")
    async def validate_ticket(request):
        ticket = str((await body_of(request)).get("ticket", ""))
        kind, _, name = ticket.partition(":")
        if kind != "user" or not USER_NAME.match(name):
            return error("Invalid ticket.")
        return ok(user_id=name, name=name)

    @routes.post("/chat/authorizer")
    async def authorize(request):
        body = await body_of(request)
        if room_of(body.get("subscription")) is None:
            return error("No such room.")
        if not body.get("client_id"):
            return error("Subscribe with a client_id.")
        return ok(can_post=body.get("name") not in rooms(request).muted)

    @routes.post("/chat/before_subscribe")
    async def before_subscribe(request):
        body = await body_of(request)
        room = room_of(body["subscription"])
        chat = rooms(request)
        return ok(data={"history": list(chat.history[room]), "members": chat.members(room)})

    @routes.post("/chat/on_subscribe")
    async def on_subscribe(request):
        body = await body_of(request)
        await rooms(request).join(room_of(body["subscription"]), body["client_id"], body["name"])
        return ok()

    @routes.post("/chat/on_message")
    async def on_message(request):
        body = await body_of(request)
        if not body.get("can_post"):
            return error("You are muted in this room.")
        data = body.get("data")
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            return error(f"A message is 1 to {MAX_TEXT} characters.")
        line = {"type": "line", "id": next(rooms(request).line_ids), "user": body["name"], "text": text.strip(), "at": now_iso()}
        await rooms(request).say(room_of(body["subscription"]), line)
        # The reply tells the sender its line was accepted (and its id).
        return ok(data={"id": line["id"]})

    @routes.post("/chat/before_unsubscribe")
    async def before_unsubscribe(request):
        return ok()

    @routes.post("/chat/on_unsubscribe")
    async def on_unsubscribe(request):
        body = await body_of(request)
        await rooms(request).leave(room_of(body["subscription"]), body["client_id"])
        return ok()

    @routes.post("/chat/on_authorization_change")
    async def on_authorization_change(request):
        body = await body_of(request)
        log.info("%s in %s: can_post is now %s", body.get("name"), body.get("subscription"), body.get("can_post"))
        return ok()

    @routes.post("/chat/on_heartbeat")
    async def on_heartbeat(request):
        body = await body_of(request)
        rooms(request).seen(room_of(body["subscription"]), body["client_id"])
        return ok()

    app = web.Application()
    app.add_routes(routes)
    app.router.add_static("/demo/", EXAMPLES / "demo")

    async def lifecycle(app):
        if args.publish_url:
            publisher = PublishApiPublisher(args.publish_url, args.publish_key)
        else:
            publisher = RedisPublisher(args.redis_url, args.channel_prefix)
        app["rooms"] = ChatRooms(publisher, args.history, args.presence_timeout, args.muted)

        async def sweep():
            while True:
                await asyncio.sleep(args.presence_timeout / 3)
                try:
                    await app["rooms"].forget_silent_members()
                except Exception:
                    log.exception("presence sweep failed")

        sweeper = asyncio.create_task(sweep())
        yield
        sweeper.cancel()
        await publisher.close()

    app.cleanup_ctx.append(lifecycle)
    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--redis-url", default="redis://localhost:6379/0", help="Redis to PUBLISH to")
    parser.add_argument("--channel-prefix", default="", help="socketshark's redis.channel_prefix")
    parser.add_argument("--publish-url", help="publish through socketshark's API instead of Redis, e.g. http://127.0.0.1:9090/publish")
    parser.add_argument("--publish-key", default="", help="bearer key for --publish-url")
    parser.add_argument("--ws-url", help="socketshark address for the page (default ws://<page host>:9000)")
    parser.add_argument("--history", type=int, default=50, help="lines of history per room")
    parser.add_argument("--presence-timeout", type=float, default=90.0, help="seconds without heartbeat before a member is dropped")
    parser.add_argument("--muted", action="append", default=[], help="a user who may read but not post (repeatable)")
    args = parser.parse_args()
    if args.publish_url and not args.publish_key:
        parser.error("--publish-url needs --publish-key")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(make_app(args), host=args.host, port=args.port, print=lambda text: log.info(text.strip()))


if __name__ == "__main__":
    main()
