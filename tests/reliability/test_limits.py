"""Body, text-count and text-length limits; 1 MB texts never hang; memory stays bounded."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from reliability_figures import record
from reliability_http import build_request, request, send_raw
from reliability_proc import group_rss_mb

pytestmark = [pytest.mark.slow, pytest.mark.integration]
LIMIT, MAX_TEXTS, MAX_CHARS = 16384, 16, 500  # the main server's limits (conftest.MAIN_LIMITS)
JSON = [("Content-Type", "application/json")]
HOST = "127.0.0.1"


def padded_body(size: int) -> bytes:
    """A valid request of exactly ``size`` bytes (JSON whitespace pads it)."""
    core = json.dumps({"texts": ["a fine and moving film"] * 4}).encode()
    assert len(core) <= size
    return core[:-1] + b" " * (size - len(core)) + b"}"


def chunks_of(body: bytes, n: int) -> list[bytes]:
    return [body[i:i + n] for i in range(0, len(body), n)]


def test_body_limit_every_framing(main_server, auth):
    port, hdrs = main_server.port, auth + JSON
    over, exact = padded_body(LIMIT + 1), padded_body(LIMIT)

    async def run() -> dict[str, int]:
        host = f"{HOST}:{port}"
        headers_only = build_request("POST", "/predict", host, hdrs + [
            ("Content-Length", str(LIMIT + 1))], None)
        cases = {
            "limit+1, Content-Length": request(HOST, port, "POST", "/predict", hdrs, over),
            "limit+1, chunked in one chunk": request(HOST, port, "POST", "/predict", hdrs,
                                                     chunks=[over]),
            "limit+1, chunked in 1000-byte chunks": request(HOST, port, "POST", "/predict", hdrs,
                                                            chunks=chunks_of(over, 1000)),
            "limit+1 declared, body never sent": send_raw(HOST, port, headers_only, timeout=10),
            "exactly limit, Content-Length": request(HOST, port, "POST", "/predict", hdrs, exact),
            "exactly limit, chunked": request(HOST, port, "POST", "/predict", hdrs,
                                              chunks=chunks_of(exact, 777)),
        }
        replies = [await c for c in cases.values()]
        return {k: (r.status, r.is_json_error(), round(r.ms)) for k, r in
                zip(cases, replies, strict=True)}

    got = asyncio.run(run())
    expected = {k: 200 if k.startswith("exactly") else 413 for k in got}
    record("body limit (6 framings)", statuses={k: v[0] for k, v in got.items()},
           passed=all(got[k][0] == expected[k] for k in got))
    for kind, (status, is_json, _) in got.items():
        assert status == expected[kind], f"{kind}: {status}"
        assert status == 200 or is_json, kind


def test_text_count_and_length_limits(main_server, auth):
    port, hdrs = main_server.port, auth + JSON
    cases = {(MAX_TEXTS, 1): 200, (MAX_TEXTS + 1, 1): 413, (1, MAX_CHARS): 200,
             (1, MAX_CHARS + 1): 413}

    async def run() -> dict:
        out = {}
        for (n, chars), _ in cases.items():
            body = json.dumps({"texts": ["é" * chars] * n}).encode()
            out[(n, chars)] = (await request(HOST, port, "POST", "/predict", hdrs, body)).status
        return out

    got = asyncio.run(run())
    record("text count/length limits", statuses={f"{n} texts x {c} chars": s
                                                 for (n, c), s in got.items()},
           passed=got == cases)
    assert got == cases


def test_one_megabyte_text_never_hangs(main_server, auth):
    """100 requests each carrying one 1 MB text (half Content-Length, half chunked): all 413."""
    port, hdrs = main_server.port, auth + JSON
    body = json.dumps({"text": "great film " * (1_048_576 // 11)}).encode()
    rss_before = group_rss_mb(main_server.proc.pid)

    async def run() -> list:
        out = []
        for i in range(100):
            if i % 2:
                out.append(await request(HOST, port, "POST", "/predict", hdrs, chunks=chunks_of(
                    body, 65536), timeout=30))
            else:
                out.append(await request(HOST, port, "POST", "/predict", hdrs, body, timeout=30))
        return out

    t0 = time.perf_counter()
    replies = asyncio.run(run())
    wall = time.perf_counter() - t0
    rss_after = group_rss_mb(main_server.proc.pid)
    statuses = [r.status for r in replies]
    ms = sorted(r.ms for r in replies)
    record("1 MB text x100", runs=len(replies), status_413=statuses.count(413),
           other={s: statuses.count(s) for s in set(statuses) if s != 413},
           max_ms=round(ms[-1]), median_ms=round(ms[50]), wall_s=round(wall, 1),
           server_rss_mb=[round(rss_before), round(rss_after)],
           passed=statuses.count(413) == 100 and rss_after <= rss_before + 64)
    assert statuses.count(413) == 100, {s: statuses.count(s) for s in set(statuses)}
    assert all(r.is_json_error() for r in replies)
    assert ms[-1] < 30_000  # the server's request timeout (default 30 s)
    assert rss_after <= rss_before + 64, (rss_before, rss_after)
