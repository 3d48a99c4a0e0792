"""Open-loop overload at 3x the measured capacity: only quick 429/503 rejections, no 5xx or
resets, accepted p99 within the timeout, /livez fast throughout, memory bounded, full recovery."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter

import pytest
from reliability_figures import record
from reliability_load import ProbeProcess, closed_loop, open_loop, percentile, predict_body
from reliability_proc import group_rss_mb

pytestmark = [pytest.mark.slow, pytest.mark.integration]
TIMEOUT_MS = 2000  # the loaded server (conftest.SERVER_ENVS["loaded"])
# The request size is derived from the machine: start at 64 texts and grow the requests until
# 3x the measured capacity fits in TARGET_RATE, half of what the Python open-loop generator can
# offer (~600 req/s here), so a faster or slower machine changes the size, not the verdict.
FIRST_TEXTS, MAX_TEXTS, TARGET_RATE = 64, 4096, 300.0
LOAD_S = 60.0 if os.environ.get("RELIABILITY_SOAK") == "1" else 8.0  # soak: a minute of overload
# /livez must answer well inside the shipped liveness probe's timeout (deploy/k8s: 3 s) under
# overload, however busy the machine: a missed probe restarts the pod. The latency figures
# are recorded for the report, not judged against a speed.
LIVEZ_MS, QUICK_REJECT_MS, RSS_SLACK_MB = 1000, 1000, 150
JSON = [("Content-Type", "application/json")]


class RssSampler(threading.Thread):
    """Peak resident memory of the server's process group, sampled every 100 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.peak = max(self.peak, group_rss_mb(self.pid))


def sized_load(port: int) -> tuple[int, bytes, float]:
    """(texts per request, body, capacity in requests/s) with 3 x capacity <= TARGET_RATE."""
    texts = FIRST_TEXTS
    while True:
        body = predict_body(texts)
        asyncio.run(closed_loop(port, body, JSON, users=2, seconds=1.0))  # warm-up
        capacity, _ = asyncio.run(closed_loop(port, body, JSON, users=8, seconds=4.0))
        if 3 * capacity <= TARGET_RATE or texts >= MAX_TEXTS:
            return texts, body, capacity
        texts = min(MAX_TEXTS, int(texts * 3 * capacity / TARGET_RATE * 1.2) + 1)


def run_load(loaded_server) -> dict:
    """Measure capacity at a machine-sized request, offer 3x it open-loop for LOAD_S, then
    check service again."""
    port = loaded_server.port
    rss_before = group_rss_mb(loaded_server.proc.pid)
    texts, body, capacity = sized_load(port)
    rate = 3 * capacity
    sampler = RssSampler(loaded_server.proc.pid)
    sampler.start()
    livez = ProbeProcess(port, every_s=0.05, seconds=LOAD_S)
    replies = asyncio.run(open_loop(port, body, JSON, rate, LOAD_S, timeout=TIMEOUT_MS / 1000 + 5))
    live = livez.results()
    sampler.stop.set()
    sampler.join(2)
    time.sleep(1.0)
    after, after_replies = asyncio.run(closed_loop(port, body, JSON, users=2, seconds=2.0))
    return dict(texts=texts, capacity=capacity, rate=rate, replies=replies, live=live, rss_before=rss_before,
                peak=sampler.peak, after=after, after_replies=after_replies)


@pytest.fixture(scope="module")
def overload_run(loaded_server) -> tuple[dict, dict]:
    """One bounded overload run: (checks name -> passed, figures)."""
    load_before = os.getloadavg()[0]
    run = run_load(loaded_server)
    capacity, rate, replies, live = run["capacity"], run["rate"], run["replies"], run["live"]
    rss_before, peak, after_replies = run["rss_before"], run["peak"], run["after_replies"]
    counts = Counter(r.status for r in replies)
    accepted = [r.ms for r in replies if r.status == 200]
    rejected = [r.ms for r in replies if r.status in (429, 503)]
    errors = Counter(r.error.split(":")[0] for r in replies if r.status == 0)
    live_ms = [ms for _, ms in live]
    live_bad = sum(s != 200 for s, _ in live)
    figures = dict(
        texts_per_request=run["texts"], capacity_rps=round(capacity, 1),
        offered_rps=round(rate, 1), sent=len(replies),
        statuses=dict(counts), connection_errors=dict(errors),
        accepted_p50_ms=round(percentile(accepted, 50)), accepted_p99_ms=round(percentile(accepted, 99)),
        rejected_p99_ms=round(percentile(rejected, 99)), livez_probes=len(live_ms),
        livez_failed=live_bad, livez_p99_ms=round(percentile(live_ms, 99)),
        livez_max_ms=round(max(live_ms, default=0)),
        rss_mb={"before": round(rss_before), "peak": round(peak)},
        load_avg=[round(load_before, 2), round(os.getloadavg()[0], 2)],
        after_load_ok=f"{sum(r.status == 200 for r in after_replies)}/{len(after_replies)}")
    checks = {
        "only 200/429/503": set(counts) <= {200, 429, 503},
        "every scheduled request sent": len(replies) == int(rate * LOAD_S),
        "accepted p99 within timeout": percentile(accepted, 99) <= TIMEOUT_MS,
        "rejections quick": percentile(rejected, 99) <= QUICK_REJECT_MS,
        "some load shed": bool(rejected),
        "livez 200 throughout": live_bad == 0 and len(live_ms) >= 10,
        "livez within the probe budget throughout": max(live_ms, default=1e9) <= LIVEZ_MS,
        "memory bounded": peak <= rss_before + RSS_SLACK_MB,
        "full service after": all(r.status == 200 for r in after_replies) and run["after"] > 0,
    }
    record("open-loop overload (3x capacity)", **figures,
           failed_checks=[k for k, v in checks.items() if not v], passed=all(checks.values()))
    return checks, figures


def test_open_loop_overload_at_3x_capacity(overload_run):
    checks, figures = overload_run
    failed = [k for k, ok in checks.items() if not ok]
    assert not failed, (failed, figures)
