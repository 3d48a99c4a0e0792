"""Cold starts (readiness means working), tampered bundle never ready, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from reliability_figures import record
from reliability_http import request
from reliability_load import HOST, fixture_texts, get_status

from devtools.launcher import ServiceProcess
from devtools.promtext import samples

pytestmark = [pytest.mark.slow, pytest.mark.integration]
COLD_STARTS, IN_FLIGHT, GRACE_S = 3, 8, 30
JSON = [("Content-Type", "application/json")]
ENV = {"SENTIMENT_ACCESS_LOG": "false", "SENTIMENT_MAX_LATENCY_MS": "600000",
       "SENTIMENT_MAX_TEXTS": "1024", "SENTIMENT_MAX_BATCH_SIZE": "1024",
       "SENTIMENT_MAX_BODY_BYTES": "4000000"}


def first_ready_then_predict(svc: ServiceProcess, limit_s: float = 180) -> dict:
    """Poll /readyz every 20 ms; the moment it says 200, predict. Bounded by ``limit_s``."""
    t0 = time.monotonic()
    not_ready = 0
    while time.monotonic() - t0 < limit_s:
        if svc.proc.poll() is not None:
            return {"exit": svc.proc.returncode, "ready": False, "not_ready": not_ready}
        status, _ = get_status(svc.port, "/readyz", timeout=1)
        if status == 200:
            r = asyncio.run(request(HOST, svc.port, "POST", "/predict", JSON,
                                    b'{"text": "a warm, funny film"}', timeout=30))
            return {"ready": True, "ready_s": round(time.monotonic() - t0, 1),
                    "predict": r.status, "not_ready": not_ready}
        not_ready += 1
        time.sleep(0.02)
    return {"ready": False, "timeout": True, "not_ready": not_ready}


def tampered_bundle(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    data = bytearray((dst / "model.onnx").read_bytes())
    data[len(data) // 3] ^= 0xFF
    (dst / "model.onnx").write_bytes(bytes(data))
    return dst


@pytest.fixture(scope="module")
def cold_started(default_bundle, tmp_path_factory):
    """COLD_STARTS good servers and one on a tampered bundle, started in parallel."""
    bad = tampered_bundle(default_bundle, tmp_path_factory.mktemp("tampered") / "bundle")
    procs = [ServiceProcess(ENV) for _ in range(COLD_STARTS)]
    procs.append(ServiceProcess({**ENV, "SENTIMENT_MODEL_DIR": str(bad)}))
    try:
        for p in procs:
            p.start()
        with ThreadPoolExecutor(len(procs)) as pool:
            outcomes = list(pool.map(first_ready_then_predict, procs))
        yield list(zip(procs, outcomes, strict=True))
    finally:
        for p in procs:
            p.stop()


def test_ready_always_means_working(cold_started):
    good = [o for _, o in cold_started[:COLD_STARTS]]
    record("readiness over cold starts", cold_starts=len(good),
           ready_s=[o.get("ready_s") for o in good], first_predict=[o.get("predict") for o in good],
           passed=all(o.get("predict") == 200 for o in good))
    assert all(o["ready"] and o["predict"] == 200 for o in good), good


def test_tampered_bundle_exits_never_ready(cold_started):
    proc, outcome = cold_started[-1]
    record("tampered bundle", ready=outcome["ready"], exit_code=outcome.get("exit"),
           readyz_polls_not_ready=outcome["not_ready"],
           passed=not outcome["ready"] and outcome.get("exit") not in (None, 0))
    assert not outcome["ready"], outcome
    assert outcome.get("exit") not in (None, 0), outcome
    assert "cannot serve" in proc.output_tail(80)


def in_progress(port: int) -> float:
    status_text = ""
    try:
        import urllib.request

        with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as r:
            status_text = r.read().decode()
    except OSError:
        return -1
    return sum(s["value"] for s in samples(status_text, "bentoml_service_request_in_progress")
               if s["labels"].get("endpoint") == "/predict")


async def sigterm_with_requests_in_flight(svc: ServiceProcess) -> dict:
    # 1024 long texts each (0.3-1.3 s of work): all 8 are surely in flight at SIGTERM
    body = json.dumps({"texts": sorted(fixture_texts(), key=len)[-256:] * 4}).encode()
    tasks = [asyncio.create_task(request(HOST, svc.port, "POST", "/predict", JSON, body,
                                         timeout=GRACE_S + 10)) for _ in range(IN_FLIGHT)]
    deadline = time.monotonic() + 10
    while (seen := await asyncio.to_thread(in_progress, svc.port)) < IN_FLIGHT:
        assert time.monotonic() < deadline, f"only {seen} requests reached the server"
    t0 = time.monotonic()
    os.kill(svc.proc.pid, signal.SIGTERM)  # what docker stop / Kubernetes send to PID 1
    await asyncio.sleep(0.3)
    late = await request(HOST, svc.port, "GET", "/livez", timeout=5)
    replies = await asyncio.gather(*tasks)
    try:
        code = await asyncio.to_thread(svc.proc.wait, GRACE_S)
    except subprocess.TimeoutExpired:
        code = None
    return {"in_flight": [r.status for r in replies], "late_connection": late.status or late.error,
            "exit_code": code, "exit_s": round(time.monotonic() - t0, 2)}


def test_sigterm_finishes_in_flight_requests(cold_started):
    outcomes = []
    for svc, _ in cold_started[:COLD_STARTS]:
        outcomes.append(asyncio.run(sigterm_with_requests_in_flight(svc)))
    record("SIGTERM graceful shutdown", runs=len(outcomes), in_flight_each=IN_FLIGHT,
           completed_200=sum(o["in_flight"].count(200) for o in outcomes),
           late_connections=[o["late_connection"] for o in outcomes],
           late_refused=sum("ConnectionRefused" in str(o["late_connection"]) for o in outcomes),
           exit_codes=[o["exit_code"] for o in outcomes], exit_s=[o["exit_s"] for o in outcomes],
           passed=all(o["in_flight"] == [200] * IN_FLIGHT and o["exit_code"] == 0
                      and o["late_connection"] != 200 for o in outcomes))
    for o in outcomes:
        assert o["in_flight"] == [200] * IN_FLIGHT, o
        assert o["late_connection"] != 200, o
        assert o["exit_code"] == 0, o
