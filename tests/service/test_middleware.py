"""service.middleware: reading and draining request bodies, the direct /predict path (pure ASGI,
no server)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from starlette.responses import JSONResponse

from service.middleware import DRAIN_IDLE_S, RequestGate, drain, read_body
from service.schema import Limits, RequestError


def receiver(chunks: list[bytes], stall_after: int | None = None):
    """An ASGI receive yielding ``chunks`` (more_body until the last); it stalls (never returns)
    after ``stall_after`` chunks. Records how many chunks were taken."""
    taken = [0]

    async def receive() -> dict:
        if stall_after is not None and taken[0] >= stall_after:
            await asyncio.sleep(3600)
        i = taken[0]
        taken[0] += 1
        return {"type": "http.request", "body": chunks[i], "more_body": i < len(chunks) - 1}

    return receive, taken


def test_oversized_streamed_body_is_drained_before_the_413():
    receive, taken = receiver([b"x" * 1000] * 50)
    with pytest.raises(RequestError) as exc:
        asyncio.run(read_body({"headers": []}, receive, limit=4000))
    assert exc.value.status == 413
    assert taken[0] == 50  # the whole body was read, so closing sends no reset


def test_drain_is_bounded_by_budget_and_by_a_stalled_client():
    receive, taken = receiver([b"x" * 1000] * 50)
    asyncio.run(drain(receive, budget=10_000))
    assert taken[0] == 10

    receive, taken = receiver([b"x" * 1000] * 50, stall_after=3)

    async def timed() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await drain(receive, budget=10**9)
        return loop.time() - start

    seconds = asyncio.run(timed())
    assert taken[0] == 3 and DRAIN_IDLE_S <= seconds < DRAIN_IDLE_S + 0.5


def test_declared_oversize_body_never_sent_is_answered_after_the_idle_gap():
    receive, taken = receiver([b"x"], stall_after=0)
    headers = [(b"content-length", b"5000")]
    with pytest.raises(RequestError) as exc:
        asyncio.run(read_body({"headers": headers}, receive, limit=4000))
    assert exc.value.status == 413 and taken[0] == 0


async def call_gate(gate: RequestGate, method: str, path: str, body: bytes) -> dict:
    """Send one request through ``gate``; return status, headers and parsed JSON body."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path,
             "headers": [(b"content-type", b"application/json")]}
    await gate(scope, receive, send)
    headers = dict(sent[0].get("headers", []))
    data = b"".join(m.get("body", b"") for m in sent[1:])
    return {"status": sent[0]["status"], "headers": headers,
            "json": json.loads(data) if data else None}


class DirectRecorder:
    """A direct handler and an inner app that record what reached them."""

    def __init__(self, fail: bool = False) -> None:
        self.texts: list[list[str]] = []
        self.inner: list[str] = []
        self.fail = fail

    async def direct(self, texts: list[str]) -> JSONResponse:
        self.texts.append(texts)
        if self.fail:
            raise RuntimeError("scorer exploded")
        return JSONResponse({"results": [len(t) for t in texts]})

    async def app(self, scope, receive, send) -> None:
        self.inner.append(scope["path"])
        await JSONResponse({"inner": True})(scope, receive, send)


def direct_gate(rec: DirectRecorder) -> RequestGate:
    return RequestGate(rec.app, limits=Limits(max_texts=2), direct=rec.direct,
                       server_header="BentoML Service/test")


def test_direct_path_answers_valid_predict_without_the_inner_app():
    rec = DirectRecorder()
    res = asyncio.run(call_gate(direct_gate(rec), "POST", "/predict", b'{"texts": ["ab", "c"]}'))
    assert res["status"] == 200 and res["json"] == {"results": [2, 1]}
    assert res["headers"][b"server"] == b"BentoML Service/test"
    assert rec.texts == [["ab", "c"]] and rec.inner == []


def test_direct_path_leaves_bad_requests_and_other_routes_to_the_gate_and_app():
    rec = DirectRecorder()
    gate = direct_gate(rec)
    bad = asyncio.run(call_gate(gate, "POST", "/predict", b'{"texts": ["a", "b", "c"]}'))
    assert bad["status"] == 413 and "max_texts" in json.dumps(bad["json"])
    other = asyncio.run(call_gate(gate, "POST", "/other", b'{"texts": ["a"]}'))
    assert other["json"] == {"inner": True}
    assert rec.texts == [] and rec.inner == ["/other"]


def test_direct_path_failure_is_a_logged_json_500(caplog):
    rec = DirectRecorder(fail=True)
    with caplog.at_level(logging.ERROR, logger="service.middleware"):
        res = asyncio.run(call_gate(direct_gate(rec), "POST", "/predict", b'{"text": "x"}'))
    assert res["status"] == 500 and "internal error" in res["json"]["error"]
    assert "scorer exploded" in caplog.text and rec.inner == []
