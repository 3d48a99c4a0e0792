"""Pure-ASGI request gate in front of BentoML's router: auth, JSON only, body limit, validation.

BentoML has no body-size limit and still decodes a pickle media type, so this gate, added with
BentoML's public ``add_asgi_middleware``, checks every request before the router sees it:

- ``Authorization: Bearer <key>`` on the protected paths when an API key is set (401);
- any body that is not ``application/json`` is refused (415), so no other decoder is reachable;
- the body is counted as it streams in (413 past the limit, whatever its size: what the client
  still sends is read and discarded for at most DRAIN_S seconds first, so it reads the 413
  instead of a connection reset);
- POST bodies of the text routes are validated (service.schema) and refused with the service's
  JSON error (400/413/422) before BentoML parses them; a valid body is replayed to the router.

It never answers a valid request itself: BentoML's router, API handler and context do. Errors
are rendered by ``service.errors``; plain-text errors of the inner app (Starlette's 404/405)
are rewritten as JSON.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from core.errors import ErrorKind, SentimentError
from service.errors import send_error
from service.schema import Limits, parse_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
SpecFilter = Callable[[dict[str, Any]], dict[str, Any]]

DRAIN_S = 5.0  # longest time spent reading and discarding a refused body
DRAIN_IDLE_S = 0.5  # stop draining when the client pauses this long
BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPES = frozenset({"application/json"})


class ClientGone(Exception):
    """The client disconnected mid-body: there is nobody to answer."""


def header(scope: Scope, name: bytes) -> bytes | None:
    """First value of a request header (name in lower case)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def check_auth(scope: Scope, key: bytes | None) -> None:
    """UNAUTHORIZED unless ``Authorization: Bearer <key>`` matches (constant-time compare)."""
    if key is None:
        return
    given = header(scope, b"authorization") or b""
    scheme, _, token = given.partition(b" ")
    if not (scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), key)):
        raise SentimentError(ErrorKind.UNAUTHORIZED,
                             "missing or wrong API key: send 'Authorization: Bearer <key>'")


def check_content_type(scope: Scope) -> None:
    """UNSUPPORTED_MEDIA for a body that is not JSON (a missing Content-Type counts as JSON)."""
    raw = header(scope, b"content-type")
    if raw is None:
        return
    media = raw.decode("latin-1").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES:
        raise SentimentError(ErrorKind.UNSUPPORTED_MEDIA, f"unsupported Content-Type {media!r}: "
                             "only application/json is accepted")


async def drain(receive: Receive, seconds: float = DRAIN_S) -> None:
    """Read and discard the rest of a refused body, for at most ``seconds`` (stopping when the
    client pauses DRAIN_IDLE_S or has sent it all). Closing a connection with unread bytes
    makes the kernel send a reset, and a client still writing its body then loses the 413:
    nginx's lingering close, bounded by time, not size."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(receive(), min(DRAIN_IDLE_S, left))
        except TimeoutError:
            return
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, counting streamed bytes (TOO_LARGE past ``limit``)."""
    too_big = SentimentError(ErrorKind.TOO_LARGE, f"request body exceeds the limit of {limit} "
                             "bytes", limit="max_body_bytes", max=limit)
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await drain(receive)
        raise too_big
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            if message.get("more_body", False):
                await drain(receive)
            raise too_big
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable that yields ``body`` once, then defers to the real one."""
    sent = False

    async def _receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return _receive


def rewrite_body(send: Send, should: Callable[[Message], bool],
                 transform: Callable[[int, bytes], bytes]) -> Send:
    """Wrap ``send``: a response for which ``should(start message)`` holds is buffered and sent
    as ``transform(status, body)`` with a fresh Content-Length and a JSON Content-Type."""
    held: dict[str, Any] = {}

    async def _send(message: Message) -> None:
        if message["type"] == "http.response.start" and should(message):
            held.update(start=message, body=b"")
            return
        if message["type"] == "http.response.body" and held:
            held["body"] += message.get("body", b"")
            if message.get("more_body", False):
                return
            start = held["start"]
            data = transform(start["status"], held["body"])
            headers = [(k, v) for k, v in start.get("headers", [])
                       if k.lower() not in (b"content-type", b"content-length")]
            headers += [(b"content-type", b"application/json"),
                        (b"content-length", str(len(data)).encode())]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": data, "more_body": False})
            return
        await send(message)

    return _send


def _plain_error(message: Message) -> bool:
    ctype = next((v for k, v in message.get("headers", []) if k.lower() == b"content-type"), b"")
    return message["status"] >= 400 and not ctype.startswith(b"application/json")


def _json_error(status: int, body: bytes) -> bytes:
    text = body.decode("utf-8", "replace").strip() or "error"
    return json.dumps({"error": text, "status": status}).encode()


class RequestGate:
    """ASGI middleware: auth on ``protected`` paths, JSON-only bodies, byte limit, validation of
    the text routes (path -> Limits), and ``spec_filter`` applied to ``/docs.json``."""

    def __init__(self, app: ASGIApp, *, limits: Limits, routes: dict[str, Limits],
                 api_key: bytes | None = None, protected: tuple[str, ...] = (),
                 spec_filter: SpecFilter | None = None) -> None:
        self.app, self.limits, self.routes, self.api_key = app, limits, routes, api_key
        self.protected = frozenset(protected)
        self.spec_filter = spec_filter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._gate(scope, receive)
        except SentimentError as exc:
            await send_error(send, exc)
            return
        except ClientGone:
            return
        if scope.get("method") != "HEAD":
            send = rewrite_body(send, _plain_error, _json_error)
        if self.spec_filter is not None and scope.get("path") == "/docs.json":
            send = rewrite_body(send, lambda m: m["status"] == 200, self._filter_spec)
        await self.app(scope, receive, send)

    def _filter_spec(self, status: int, body: bytes) -> bytes:
        assert self.spec_filter is not None
        return json.dumps(self.spec_filter(json.loads(body))).encode()

    async def _gate(self, scope: Scope, receive: Receive) -> Receive:
        path = scope.get("path", "")
        if path in self.protected:
            check_auth(scope, self.api_key)
        if scope.get("method", "GET") in BODYLESS:
            return receive
        check_content_type(scope)
        body = await read_body(scope, receive, self.limits.max_body_bytes)
        route = self.routes.get(path)
        if route is not None and scope.get("method") == "POST":
            parse_body(body, route)
        return replay(body, receive)
