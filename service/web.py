"""The web page at ``/``: static files (service/static) served by the service itself.

``GET /`` is index.html and ``/static/...`` the page's script and stylesheet, mounted with
BentoML's public ``mount_asgi_app`` next to ``GET /model``. No CDN, no build step: the page
calls ``/model``, ``/predict`` and ``/explain`` on the same origin. Every page response carries
a Content-Security-Policy that allows only same-origin scripts, styles and requests (no inline
script, no inline event handlers), and is revalidated on each load (ETag), so a new version
of the page is picked up at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().with_name("static")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
PAGE_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
                "referrer-policy": "no-referrer", "x-frame-options": "DENY",
                "cache-control": "no-cache"}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class PageHeaders:
    """ASGI wrapper adding PAGE_HEADERS to every response of ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.extra = [(k.encode(), v.encode()) for k, v in PAGE_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.extra if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send if scope["type"] != "http" else _send)


async def index(request: Request) -> Response:
    """``GET /``: the page."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers=PAGE_HEADERS)


def page_routes() -> list[BaseRoute]:
    """``/`` and ``/static/*`` (``/`` goes before BentoML's own index page, which it replaces;
    a mount at ``/`` would also shadow BentoML routes added after the mounts, e.g. /docs.json)."""
    return [Route("/", index, methods=["GET", "HEAD"]),
            Mount("/static", app=PageHeaders(StaticFiles(directory=STATIC_DIR)), name="static")]
