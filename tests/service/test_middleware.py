"""service.middleware: reading and draining request bodies, validation and pass-through of the
gate (pure ASGI, no server)."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.responses import JSONResponse

from core.errors import ErrorKind, SentimentError
from service.middleware import DRAIN_IDLE_S, RequestGate, drain, read_body
from service.schema import Limits


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
    with pytest.raises(SentimentError) as exc:
        asyncio.run(read_body({"headers": []}, receive, limit=4000))
    assert exc.value.kind is ErrorKind.TOO_LARGE
    assert taken[0] == 50  # the whole body was read, so closing sends no reset


def test_drain_reads_a_whole_large_body_and_stops_at_a_stalled_client():
    receive, taken = receiver([b"x" * 65536] * 1024)  # 64 MiB
    asyncio.run(drain(receive))
    assert taken[0] == 1024

    receive, taken = receiver([b"x" * 1000] * 50, stall_after=3)

    async def timed() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await drain(receive, seconds=60)
        return loop.time() - start

    seconds = asyncio.run(timed())
    assert taken[0] == 3 and seconds >= DRAIN_IDLE_S  # stopped by the pause, not the 60 s bound


def test_declared_oversize_body_never_sent_is_answered_after_the_idle_gap():
    receive, taken = receiver([b"x"], stall_after=0)
    headers = [(b"content-length", b"5000")]
    with pytest.raises(SentimentError) as exc:
        asyncio.run(read_body({"headers": headers}, receive, limit=4000))
    assert exc.value.kind is ErrorKind.TOO_LARGE and taken[0] == 0


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


class Inner:
    """The inner app: records the paths and bodies that reached it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    async def __call__(self, scope, receive, send) -> None:
        body = (await receive()).get("body", b"")
        self.seen.append((scope["path"], body))
        await JSONResponse({"inner": True})(scope, receive, send)


def gate_for(inner: Inner, **kwargs) -> RequestGate:
    limits = Limits(max_texts=2)
    return RequestGate(inner, limits=limits, routes={"/predict": limits}, **kwargs)


def test_valid_predict_reaches_the_app_with_its_body():
    inner = Inner()
    body = b'{"texts": ["ab", "c"]}'
    res = asyncio.run(call_gate(gate_for(inner), "POST", "/predict", body))
    assert res["status"] == 200 and res["json"] == {"inner": True}
    assert inner.seen == [("/predict", body)]


def test_invalid_predict_is_answered_by_the_gate_with_the_json_error():
    inner = Inner()
    res = asyncio.run(call_gate(gate_for(inner), "POST", "/predict", b'{"texts": ["a", "b", "c"]}'))
    assert res["status"] == 413 and res["json"]["kind"] == "too_large"
    assert res["json"]["limit"] == "max_texts" and res["json"]["status"] == 413
    other = asyncio.run(call_gate(gate_for(inner), "POST", "/other", b'{"texts": ["a", "b", "c"]}'))
    assert other["json"] == {"inner": True}  # only the text routes are validated
    assert inner.seen == [("/other", b'{"texts": ["a", "b", "c"]}')]


def test_wrong_key_is_401_with_a_bearer_challenge():
    inner = Inner()
    gate = gate_for(inner, api_key=b"k", protected=("/predict",))
    res = asyncio.run(call_gate(gate, "POST", "/predict", b'{"text": "a"}'))
    assert res["status"] == 401 and res["headers"][b"www-authenticate"] == b"Bearer"
    assert res["json"]["kind"] == "unauthorized" and inner.seen == []


def test_spec_filter_rewrites_docs_json():
    async def spec_app(scope, receive, send) -> None:
        await JSONResponse({"paths": {}})(scope, receive, send)

    gate = RequestGate(spec_app, limits=Limits(), routes={},
                       spec_filter=lambda spec: {**spec, "added": True})
    res = asyncio.run(call_gate(gate, "GET", "/docs.json", b""))
    assert res["json"] == {"paths": {}, "added": True}
    assert int(res["headers"][b"content-length"]) == len(json.dumps(res["json"]))
