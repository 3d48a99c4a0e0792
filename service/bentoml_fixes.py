"""Two fixes for BentoML 1.4.40, installed by service.app before BentoML builds anything.

**Request timeouts.**
``bentoml._internal.server.http.traffic.TimeoutMiddleware`` starts a ``loop.call_later`` timer
per request and never cancels it, and the timer keeps a copy of the request's context. Each
finished request therefore stays referenced for the whole timeout (32 s here); at a few hundred
requests/s that is tens of thousands of objects in the oldest GC generation, and every full
collection stalled the worker for 75-155 ms (measured with a gen-2 callback on a loaded 2-core
machine). This subclass behaves the same (504 JSON when nothing was sent in time) but cancels
its timer once the response starts and gives it an empty context. BentoML builds its middleware
list from the module attribute at app creation, so replacing that attribute is enough.

**Connections spread over workers.** BentoML's parent process (circus) binds one listening
socket and every worker accepts from it; the first worker woken drains the accept queue, so a
burst of new keep-alive connections lands on one worker (8 connections opened at once: all 8 on
one of the 2 workers in 16 of 20 trials) and the other core idles. With ``SO_REUSEPORT`` circus
binds a socket per worker instead and the kernel spreads new connections over them by a hash of
the address pair. Binding with ``SO_REUSEPORT`` also succeeds when another server of the same
user already listens there, so the port is first checked with a plain bind.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
from typing import Any

from bentoml._internal.server.http import traffic
from circus import process as circus_process
from circus import sockets as circus_sockets
from starlette.responses import JSONResponse

from service.launch import check_port_free

API_SERVER_SOCKET = "_bento_api_server"  # _bentoml_impl.server.serving.API_SERVER_NAME
_CIRCUS_INIT = circus_sockets.CircusSocket.__init__  # the originals, restored by install(False)
_CIRCUS_FDS = circus_process.Process._get_sockets_fds


class PromptTimeoutMiddleware(traffic.TimeoutMiddleware):
    """BentoML's TimeoutMiddleware whose timer ends with the request."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        timer = loop.call_later(self.timeout, self._set_timer_out, waiter,
                                context=contextvars.Context())

        async def _send(message: Any) -> None:
            if not waiter.done():
                waiter.set_result(None)
            await send(message)

        fut = asyncio.ensure_future(self.app(scope, receive, _send))
        fut.add_done_callback(lambda _: waiter.done() or waiter.set_result(None))
        try:
            await waiter
        except TimeoutError:
            if fut.cancel():
                await JSONResponse(
                    {"error": f"Not able to process the request in {self.timeout} seconds"},
                    status_code=504)(scope, receive, send)
            return
        finally:
            timer.cancel()
        await fut


def spread_init(self: circus_sockets.CircusSocket, *args: Any, **kwargs: Any) -> None:
    """CircusSocket.__init__ that makes the API server's TCP socket ``SO_REUSEPORT``."""
    spread = (not args and kwargs.get("name") == API_SERVER_SOCKET and kwargs.get("port")
              and kwargs.get("path") is None and not kwargs.get("so_reuseport"))
    if spread:
        check_port_free(kwargs.get("host", "localhost"), kwargs["port"])
        kwargs["so_reuseport"] = True
    _CIRCUS_INIT(self, *args, **kwargs)
    if spread and self.so_reuseport:  # circus re-creates the per-worker sockets from _cfg
        self._cfg = {"name": self.name, "host": self.host, "port": self.port,
                     "family": socket.AddressFamily(self.family).name, "type": "SOCK_STREAM",
                     "backlog": self.backlog, "so_reuseport": True}


def spread_fds(self: circus_process.Process) -> dict:
    """Process._get_sockets_fds that finds the socket named in the watcher's arguments too:
    circus only makes per-process SO_REUSEPORT sockets for ones named in ``cmd``, and BentoML
    names its API server socket in ``args``."""
    watcher = self.watcher
    if watcher is None or not watcher.args:
        return _CIRCUS_FDS(self)
    cmd = watcher.cmd
    watcher.cmd = " ".join([cmd, *map(str, watcher.args)])
    try:
        return _CIRCUS_FDS(self)
    finally:
        watcher.cmd = cmd


def install(spread_connections: bool = True) -> None:
    """Make BentoML build its apps with PromptTimeoutMiddleware and (if asked) its API server
    socket with SO_REUSEPORT (idempotent)."""
    traffic.TimeoutMiddleware = PromptTimeoutMiddleware
    circus_sockets.CircusSocket.__init__ = spread_init if spread_connections else _CIRCUS_INIT
    circus_process.Process._get_sockets_fds = spread_fds if spread_connections else _CIRCUS_FDS

