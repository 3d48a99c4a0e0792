"""Pure-ASGI request gate in front of BentoML: auth, content type, body size, /predict parsing.

Why here and not in BentoML: BentoML has no body-size limit, still knows a pickle media type,
and wraps 4xx error bodies in a list. This gate answers every client mistake itself with
``{"error": ...}`` JSON and hands /predict's validated texts to the service in the ASGI scope
(``scope[TEXTS_KEY]``), so the body is parsed once. With a ``direct`` handler it answers a valid
/predict itself, skipping BentoML's router and API handler; BentoML places user middleware inside
its metrics, tracing, access-log and timeout middleware, so those still see the request.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.responses import Response

from service.schema import Limits, RequestError, parse_body

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Direct = Callable[[list[str]], Awaitable[Response]]  # texts -> the response to send

TEXTS_KEY = "sentiment.texts"
DRAIN_MAX_BYTES = 8 * 1024 * 1024  # most bytes of a rejected body read and discarded
DRAIN_IDLE_S = 0.1  # stop draining when the client pauses this long
INTERNAL_ERROR = {"error": "internal error while answering; see the server log", "status": 500}
BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPES = frozenset({"application/json"})


class BodyTooLarge(Exception):
    """The streamed body passed the byte limit."""


async def send_json(send: Send, status: int, body: dict, headers: list | None = None) -> None:
    """Send a complete JSON response."""
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw + (headers or [])})
    await send({"type": "http.response.body", "body": data, "more_body": False})


def header(scope: Scope, name: bytes) -> bytes | None:
    """First value of a request header (name in lower case)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def check_auth(scope: Scope, key: bytes | None) -> None:
    """401 unless ``Authorization: Bearer <key>`` matches (constant-time compare)."""
    if key is None:
        return
    given = header(scope, b"authorization") or b""
    scheme, _, token = given.partition(b" ")
    if not (scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), key)):
        raise RequestError(401, "missing or wrong API key: send 'Authorization: Bearer <key>'")


def check_content_type(scope: Scope) -> None:
    """415 for any body that is not JSON (a missing Content-Type counts as JSON)."""
    raw = header(scope, b"content-type")
    if raw is None:
        return
    media = raw.decode("latin-1").split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES:
        raise RequestError(415, f"unsupported Content-Type {media!r}: only application/json "
                           "is accepted")


async def drain(receive: Receive, budget: int) -> None:
    """Read and discard what the client is still sending of a rejected body (at most ``budget``
    bytes, stopping when it pauses DRAIN_IDLE_S). Closing a connection with unread bytes makes
    the kernel send a reset, and a client still writing its body then loses our 413 (seen once
    in 100 1 MB requests); this is nginx's lingering close, bounded."""
    while budget > 0:
        try:
            message = await asyncio.wait_for(receive(), DRAIN_IDLE_S)
        except TimeoutError:
            return
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, counting streamed bytes (413 past ``limit``)."""
    declared = header(scope, b"content-length")
    too_big = RequestError(413, f"request body exceeds the limit of {limit} bytes",
                           limit="max_body_bytes", max=limit)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        if int(declared) <= DRAIN_MAX_BYTES:
            await drain(receive, int(declared))
        raise too_big
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyTooLarge("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            if message.get("more_body", False):
                await drain(receive, DRAIN_MAX_BYTES)
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


def json_errors(send: Send) -> Send:
    """Wrap ``send`` so that the inner app's non-JSON error responses (Starlette's plain-text
    404/405 and the like) reach the client as ``{"error": <their text>}`` with the same status."""
    held: dict[str, Any] = {}

    async def _send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if message["status"] >= 400 and not ctype.startswith(b"application/json"):
                held.update(status=message["status"], body=b"", headers=[
                    (k, v) for k, v in headers
                    if k.lower() not in (b"content-type", b"content-length")])
                return
        elif message["type"] == "http.response.body" and "status" in held:
            held["body"] += message.get("body", b"")
            if message.get("more_body", False):
                return
            text = held["body"].decode("utf-8", "replace").strip() or "error"
            await send_json(send, held["status"], {"error": text}, held["headers"])
            return
        await send(message)

    return _send


OVERLOADED = {"error": "server overloaded: the adaptive-batching queue would pass "
              "max_latency_ms; retry later", "status": 503}


def explain_overload(send: Send) -> Send:
    """Replace the generic 503 body of BentoML's dispatcher ("unexpected error") with what
    happened."""
    state = {"overloaded": False}

    async def _send(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 503:
            state["overloaded"] = True
            return
        if state["overloaded"] and message["type"] == "http.response.body":
            if not message.get("more_body", False):
                await send_json(send, 503, OVERLOADED, [(b"retry-after", b"1")])
            return
        await send(message)

    return _send


class RequestGate:
    """ASGI middleware: auth for ``protected`` paths, JSON-only bodies, byte limit, /predict."""

    def __init__(self, app: ASGIApp, *, limits: Limits, api_key: bytes | None = None,
                 protected: tuple[str, ...] = ("/predict", "/model"),
                 predict_path: str = "/predict", explain_503: bool = False,
                 direct: Direct | None = None, server_header: str = "") -> None:
        """``explain_503``: rewrite the generic 503s of BentoML's dispatcher (batcher=bentoml);
        service.batcher's own 503s already say why. ``direct``: answer a valid /predict here
        with ``await direct(texts)`` instead of passing it to BentoML's router and handler
        (sent with ``server_header`` as BentoML's handler would)."""
        self.app = app
        self.direct = direct
        self.server_header = server_header
        self.explain_503 = explain_503
        self.limits = limits
        self.api_key = api_key
        self.protected = frozenset(protected)
        self.predict_path = predict_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._gate(scope, receive)
        except RequestError as exc:
            extra = [(b"www-authenticate", b"Bearer")] if exc.status == 401 else None
            await send_json(send, exc.status, exc.body(), extra)
            return
        except BodyTooLarge:
            return  # the client went away mid-body: nobody to answer
        texts = scope.get(TEXTS_KEY)
        if texts is not None and self.direct is not None:
            await self._answer(texts, scope, receive, send)
            return
        if self.explain_503 and scope.get("path") == self.predict_path:
            send = explain_overload(send)
        await self.app(scope, receive, send if scope.get("method") == "HEAD" else json_errors(send))

    async def _answer(self, texts: list[str], scope: Scope, receive: Receive,
                      send: Send) -> None:
        """The direct /predict path; an unexpected failure is a JSON 500, logged here."""
        try:
            response = await self.direct(texts)
        except Exception:  # noqa: BLE001 - whatever failed, the client gets JSON
            log.exception("answering POST %s failed", self.predict_path)
            await send_json(send, 500, INTERNAL_ERROR)
            return
        if self.server_header:
            response.headers["server"] = self.server_header
        await response(scope, receive, send)

    async def _gate(self, scope: Scope, receive: Receive) -> Receive:
        path = scope.get("path", "")
        if path in self.protected:
            check_auth(scope, self.api_key)
        if scope.get("method", "GET") in BODYLESS:
            return receive
        check_content_type(scope)
        body = await read_body(scope, receive, self.limits.max_body_bytes)
        if path == self.predict_path and scope.get("method") == "POST":
            scope[TEXTS_KEY] = parse_body(body, self.limits)
        return replay(body, receive)
