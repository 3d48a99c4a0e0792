"""service.bentoml_fixes: the timeout middleware answers 504 in time and leaves no live timer;
the API server socket becomes one SO_REUSEPORT socket per worker."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from bentoml._internal.server.http import traffic
from circus.sockets import CircusSocket

from service import bentoml_fixes
from service.bentoml_fixes import PromptTimeoutMiddleware


async def call(app, timeout: float) -> tuple[list[dict], list]:
    """Run one HTTP request through the middleware; return the sent messages and the loop's
    still-armed timers."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await PromptTimeoutMiddleware(app, timeout=timeout)({"type": "http"}, receive, send)
    loop = asyncio.get_running_loop()
    armed = [h for h in loop._scheduled if not h.cancelled()]  # noqa: SLF001 - the point
    return sent, armed


async def quick_app(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def slow_app(scope, receive, send) -> None:
    await asyncio.sleep(5)


def test_answered_request_leaves_no_armed_timer():
    sent, armed = asyncio.run(call(quick_app, timeout=30))
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"ok"
    assert armed == []  # BentoML's own middleware leaves a 30 s timer holding the request


def test_slow_request_gets_504_json_at_the_timeout():
    async def go():
        start = asyncio.get_running_loop().time()
        sent, _ = await call(slow_app, timeout=0.2)
        return sent, asyncio.get_running_loop().time() - start

    sent, seconds = asyncio.run(go())
    assert sent[0]["status"] == 504
    assert "0.2 seconds" in json.loads(sent[1]["body"])["error"]
    assert 0.2 <= seconds < 1.0


def test_install_replaces_the_class_bentoml_builds_apps_with():
    original = traffic.TimeoutMiddleware
    try:
        bentoml_fixes.install()
        assert traffic.TimeoutMiddleware is PromptTimeoutMiddleware
    finally:
        traffic.TimeoutMiddleware = original


@pytest.fixture()
def spreading():
    bentoml_fixes.install(spread_connections=True)
    yield
    bentoml_fixes.install(spread_connections=True)  # what service.app installs by default


def api_socket(port: int, name: str = bentoml_fixes.API_SERVER_SOCKET) -> CircusSocket:
    return CircusSocket(name=name, host="127.0.0.1", port=port, family=socket.AF_INET,
                        backlog=16)


def test_api_server_socket_is_recreated_per_worker_with_reuseport(spreading):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    template = api_socket(port)
    assert template.so_reuseport
    workers = [CircusSocket.load_from_config(template._cfg) for _ in range(2)]  # as circus does
    try:
        for w in workers:
            w.bind_and_listen()  # both bind the same port: one listening socket per worker
        assert {w.getsockname()[1] for w in workers} == {port}
        with pytest.raises(OSError):  # the port is taken now: a second server is refused
            api_socket(port)
    finally:
        for sock in (template, *workers):
            sock.close()


def test_other_sockets_and_the_switched_off_fix_keep_circus_behaviour(spreading):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    other = api_socket(port, name="some-dependency")
    assert not other.so_reuseport
    other.close()
    bentoml_fixes.install(spread_connections=False)
    plain = api_socket(0)
    assert not plain.so_reuseport and not hasattr(plain, "_cfg")
    plain.close()
