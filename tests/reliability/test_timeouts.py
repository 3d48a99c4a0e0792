"""Request timeout -> 504 near the configured value; in-flight requests never exceed the cap."""

from __future__ import annotations

import asyncio
import functools
import json
import math
import threading
import time

import pytest
from reliability_figures import record
from reliability_http import request
from reliability_load import HOST, fixture_texts, get_status

from devtools.promtext import samples

pytestmark = [pytest.mark.slow, pytest.mark.integration]
TIMEOUT_S, CAP = 1.0, 3  # the tight server (conftest.SERVER_ENVS["tight"])
JSON = [("Content-Type", "application/json")]


BIG_FLOOR, BIG_CEIL = 2048, 8192  # texts per slow request (the tight server allows 8192)
SLOW_S = 0.6  # work per slow request: three queued outlast TIMEOUT_S, a slot stays held 0.3 s+


def body_of(n: int) -> bytes:
    """``n`` texts, the longest of the fixture in turn (the most work per byte)."""
    longest = sorted(fixture_texts(), key=len)[-256:]
    return json.dumps({"texts": (longest * (n // 256 + 1))[:n]}).encode()


@functools.cache
def big_count(port: int) -> int:
    """Texts per slow request, sized to this machine: BIG_FLOOR texts are timed on the idle
    server, then scaled to SLOW_S of work (at most BIG_CEIL); a machine so slow that they time
    out already keeps BIG_FLOOR."""
    wait_idle(port)
    start = time.perf_counter()
    r = asyncio.run(request(HOST, port, "POST", "/predict", JSON, body_of(BIG_FLOOR), timeout=30))
    seconds = time.perf_counter() - start
    assert r.status in (200, 504), r.status
    if r.status == 504:
        return BIG_FLOOR
    return max(BIG_FLOOR, min(BIG_CEIL, math.ceil(BIG_FLOOR * SLOW_S / seconds)))


def scrape(port: int) -> str:
    """/metrics text ("" if it could not be read, e.g. a 504 while the loop is busy)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as r:
            return r.read().decode()
    except (urllib.error.URLError, OSError):
        return ""


def texts_scored(port: int, seconds: float = 20) -> float:
    """Texts the server has scored so far (retries while /metrics is unreadable, bounded)."""
    deadline = time.monotonic() + seconds
    while not (text := scrape(port)):
        assert time.monotonic() < deadline, "/metrics unreadable"
        time.sleep(0.05)
    return sum(s["value"] for s in samples(text, "sentiment_batch_texts_sum"))


def in_progress(port: int) -> float | None:
    text = scrape(port)
    if not text:
        return None
    return sum(s["value"] for s in samples(text, "bentoml_service_request_in_progress")
               if s["labels"].get("endpoint") == "/predict")


def wait_idle(port: int, seconds: float = 60) -> int:
    """Until a one-text request answers 200 again (timed-out work finished), bounded; returns
    how many one-text requests that took."""
    deadline, sent = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        r = asyncio.run(request(HOST, port, "POST", "/predict", JSON, b'{"text": "fine"}'))
        sent += 1
        if r.status == 200:
            time.sleep(0.3)  # its concurrency slot is freed just after its response is sent
            return sent
        time.sleep(0.2)
    raise AssertionError("server did not come back to 200 after the timeouts")


def test_timeout_gives_504_near_configured_value(tight_server):
    """CAP slow requests at once: those still unanswered at TIMEOUT_S get 504 right then."""
    port = tight_server.port
    body = body_of(big_count(port))
    wait_idle(port)

    async def burst() -> list:
        return await asyncio.gather(*(request(HOST, port, "POST", "/predict", JSON, body,
                                              timeout=30) for _ in range(CAP)))

    replies = asyncio.run(burst())
    wait_idle(port)
    late = [r for r in replies if r.status == 504]
    ms = [round(r.ms) for r in late]
    window = (TIMEOUT_S * 1000, TIMEOUT_S * 1000 + 750)
    ok = bool(late) and all(r.is_json_error() for r in late) and \
        {r.status for r in replies} <= {200, 504} and all(window[0] <= m <= window[1] for m in ms)
    record("timeout -> 504", configured_ms=TIMEOUT_S * 1000, replies=[r.status for r in replies],
           ms_of_504s=ms, passed=ok)
    assert late, "no request outlasted the timeout"
    assert {r.status for r in replies} <= {200, 504}, [r.status for r in replies]
    assert all(r.is_json_error() for r in late)
    assert all(window[0] <= m <= window[1] for m in ms), (ms, window)


def test_concurrency_cap_is_never_exceeded(tight_server):
    """CAP slow requests hold every slot: 9 small ones sent meanwhile all get 429, never run."""
    port, small = tight_server.port, 9
    big = big_count(port)
    body = body_of(big)
    wait_idle(port)
    before = texts_scored(port)

    async def run() -> tuple[list, list]:
        slow = [asyncio.create_task(request(HOST, port, "POST", "/predict", JSON, body,
                                            timeout=30)) for _ in range(CAP)]
        await asyncio.sleep(0.3)  # admitted by now; their slots stay held until >= TIMEOUT_S
        if any(t.done() for t in slow):  # a slow one was refused: the premise failed
            return list(await asyncio.gather(*slow)), []
        fast = await asyncio.gather(*(request(HOST, port, "POST", "/predict", JSON,
                                              b'{"text": "extra"}', timeout=30)
                                      for _ in range(small)))
        return list(await asyncio.gather(*slow)), list(fast)

    refused_slow = 0
    for _ in range(3):  # premise retries: a slot can stay taken for a while (README, observed)
        slow, fast = asyncio.run(run())
        if fast:
            break
        refused_slow += 1
        wait_idle(port)
        time.sleep(2)
    assert fast, "3 slow requests never all got a slot on an idle server (over-rejection)"
    probes = wait_idle(port)
    scored = texts_scored(port) - before - probes  # minus wait_idle's one-text requests
    rejected_ms = [r.ms for r in fast if r.status == 429]
    record("concurrency cap", cap=CAP, slow_statuses=[r.status for r in slow],
           premise_retries=refused_slow,
           extra_sent=small, extra_429=len(rejected_ms), texts_scored=scored,
           texts_of_slow_requests=big * CAP, max_429_ms=round(max(rejected_ms, default=0)),
           passed=len(rejected_ms) == small and scored <= big * CAP)
    assert {r.status for r in slow} <= {200, 504, 429}, [r.status for r in slow]
    assert [r.status for r in fast] == [429] * small, [r.status for r in fast]
    assert all(r.is_json_error() for r in fast)
    assert scored <= big * CAP, (scored, big * CAP)  # rejected work never runs
    assert get_status(port, "/livez")[0] == 200


class InFlightSampler(threading.Thread):
    """Polls the server's sentiment_in_flight_requests gauge every 20 ms; keeps every value."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.values, self.stop = port, [], threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            text = scrape(self.port)
            if text:
                self.values.append(sum(s["value"] for s in
                                       samples(text, "sentiment_in_flight_requests")))


def test_work_in_flight_never_exceeds_cap(tight_server):
    """Two bursts of CAP+1 slow requests back to back: timed-out work keeps its slot until it
    has stopped, so the second burst never adds work on top of the first one's beyond CAP."""
    port = tight_server.port
    big = big_count(port)
    body = body_of(big)
    wait_idle(port)
    before = texts_scored(port)

    async def burst() -> list:
        return await asyncio.gather(*(request(HOST, port, "POST", "/predict", JSON, body,
                                              timeout=30) for _ in range(CAP + 1)))

    sampler = InFlightSampler(port)
    sampler.start()
    first = asyncio.run(burst())
    second = asyncio.run(burst())
    probes = wait_idle(port)
    sampler.stop.set()
    sampler.join()
    scored = texts_scored(port) - before - probes
    admitted = sum(r.status != 429 for b in (first, second) for r in b)
    record("work in flight vs cap", cap=CAP, statuses=[[r.status for r in b] for b in (first, second)],
           in_flight_samples=len(sampler.values), in_flight_max=max(sampler.values, default=None),
           texts_scored=scored, texts_of_admitted=admitted * big,
           passed=max(sampler.values, default=CAP + 1) <= CAP and scored <= admitted * big)
    assert {r.status for b in (first, second) for r in b} <= {200, 429, 504}
    assert len(sampler.values) >= 10, "in-flight gauge unreadable"
    assert max(sampler.values) == CAP, f"premise: the cap must be reached {sampler.values}"
    assert max(sampler.values) <= CAP, sampler.values
    assert scored <= admitted * big, (scored, admitted)  # refused work never ran
