"""Real Locust runs against a real `bentoml serve` on loopback.

The smoke run goes through the whole command (it starts its own server); the paced and bounded
runs share one server started here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from load_tests.locust_run import LocustSpec, listener_pid, run_locust
from load_tests.modes import Plan, run_latency
from load_tests.results import analyze_raw, read_raw
from sentiment_cli.main import main

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_smoke_run_passes_with_zero_failures_and_writes_the_report(tmp_path: Path,
                                                                     capsys) -> None:
    out = tmp_path / "smoke"
    t0 = time.monotonic()
    rc = main(["loadtest", "--mode", "smoke", "--duration", "10", "--out", str(out)])
    wall = time.monotonic() - t0
    text = capsys.readouterr().out
    print(f"smoke run wall time incl. server start: {wall:.1f}s\n{text}")
    assert rc == 0, text
    assert "VERDICT: PASS" in text
    for name in ("smoke_stats.csv", "smoke_stats_history.csv", "smoke.html", "chart.png",
                 "summary.json", "summary.txt"):
        assert (out / name).stat().st_size > 0, name
    run = json.loads((out / "summary.json").read_text())["smoke"]["run"]
    assert run["client_all"]["failures"] == 0 and run["other_failures"] == 0
    assert run["client_all"]["count"] > 20
    # the server's own histogram saw exactly the requests the client sent
    assert run["server"]["count"] == run["client_all"]["count"]
    assert run["by_size"]["1 text"]["count"] > 0 and run["by_size"]["multi"]["count"] > 0


@pytest.fixture(scope="module")
def server():
    from devtools.launcher import ServiceProcess

    with ServiceProcess() as svc:
        yield svc


def test_paced_run_holds_its_rate_and_an_impossible_rate_is_invalid(server, tmp_path) -> None:
    plan = Plan(server.url, tmp_path, server.proc.pid)
    # 12 users at 1/s each: a stall shorter than 1 s costs no slot even on a busy machine
    ok = run_latency(plan, rate=12.0, duration_s=8, users=12)
    assert ok["valid"], ok["achieved_rps"]
    assert ok["run"]["steady"]["failures"] == 0 and ok["run"]["steady"]["count"] >= 50
    assert ok["achieved_rps"] == pytest.approx(12.0, rel=0.08)
    # two users asked for 1000 requests/s each cannot be served: the run must be invalid
    plan_fast = Plan(server.url, tmp_path / "fast", server.proc.pid)
    bad = run_latency(plan_fast, rate=2000.0, duration_s=5, users=2)
    assert not bad["valid"] and bad["achieved_rps"] < 0.95 * 2000


def test_request_bound_stops_locust_early(server, tmp_path) -> None:
    spec = LocustSpec(server.url, tmp_path, "bounded", users=2, spawn_rate=2, run_time_s=40,
                      max_requests=25)
    t0 = time.monotonic()
    run_locust(spec)
    assert time.monotonic() - t0 < 30
    rows = read_raw(Path(f"{spec.prefix}_raw.csv"))
    assert 25 <= len(rows) <= 25 + 2 + 2  # the bound, plus in-flight requests and /model
    assert analyze_raw(rows)["failures"] == 0


def test_the_server_behind_a_host_url_is_found_for_the_cpu_split(server) -> None:
    assert listener_pid(server.url) == server.proc.pid
