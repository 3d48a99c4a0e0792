"""Load-test logic that needs no server: loopback guard, SLO gates, stepping, histograms, checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from load_tests.checks import check_predict
from load_tests.locust_run import require_loopback
from load_tests.modes import capacity_of, latency_users, rate_validity, stop_reason, user_steps
from load_tests.results import analyze_raw
from load_tests.server_metrics import Histogram, parse_histogram, quantile, summarize
from load_tests.slo import check, load_slo
from sentiment_cli.main import main


@pytest.mark.parametrize("url", ["http://127.0.0.1:3000", "http://127.5.6.7:80/", "http://localhost:1",
                                 "http://[::1]:3000"])
def test_loopback_hosts_are_accepted(url: str) -> None:
    assert require_loopback(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://10.0.0.1:3000", "http://example.com", "http://0.0.0.0:3000",
                                 "ftp://127.0.0.1", "127.0.0.1:3000", "http://localhost.evil.com"])
def test_non_loopback_hosts_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        require_loopback(url)


def test_cli_refuses_a_remote_host_before_sending_anything(capsys: pytest.CaptureFixture) -> None:
    assert main(["loadtest", "--mode", "smoke", "--host", "http://192.0.2.1:3000"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_cli_rejects_latency_without_rate(capsys: pytest.CaptureFixture) -> None:
    assert main(["loadtest", "--mode", "latency", "--host", "http://127.0.0.1:9"]) == 2
    assert "--rate" in capsys.readouterr().err


def _prom(buckets: dict[str, float], endpoint: str = "/predict", code: str = "200") -> str:
    name = "bentoml_service_request_duration_seconds"
    lines = [f"# HELP {name} d", f"# TYPE {name} histogram"]
    for le, c in buckets.items():
        labels = f'endpoint="{endpoint}",http_response_code="{code}",le="{le}"'
        lines.append(f"{name}_bucket{{{labels}}} {c}")
    total = list(buckets.values())[-1]
    lines += [f'{name}_sum{{endpoint="{endpoint}",http_response_code="{code}"}} {total * 0.002}',
              f'{name}_count{{endpoint="{endpoint}",http_response_code="{code}"}} {total}']
    return "\n".join(lines) + "\n"


def test_histogram_difference_and_interpolated_quantiles() -> None:
    before = parse_histogram(_prom({"0.001": 5, "0.002": 5, "0.004": 5, "+Inf": 5}))
    after = parse_histogram(_prom({"0.001": 5, "0.002": 55, "0.004": 105, "+Inf": 105}))
    other = parse_histogram(_prom({"0.001": 7, "+Inf": 7}, endpoint="/readyz"))
    assert other.count == 0  # other endpoints are not mixed in
    diff = after.minus(before)
    assert diff.count == 100
    # 50 requests in (1, 2] ms and 50 in (2, 4] ms: the median sits at the 2 ms bound
    est, lo, hi = quantile(diff, 0.5)
    assert (lo, hi) == (0.001, 0.002) and est == pytest.approx(0.002)
    est, lo, hi = quantile(diff, 0.99)
    assert (lo, hi) == (0.002, 0.004) and est == pytest.approx(0.002 + 0.98 * 0.002)
    s = summarize(diff)
    assert s["count"] == 100 and s["p99_bucket_ms"] == pytest.approx([2.0, 4.0])


def test_histogram_sums_response_codes_and_reports_open_top_bucket() -> None:
    errors = _prom({"0.01": 6, "+Inf": 6}, code="503").split("\n", 2)[2]  # same family
    text = _prom({"0.01": 0, "+Inf": 4}) + errors
    hist = parse_histogram(text)
    assert hist.buckets[0.01] == 6 and hist.buckets[math.inf] == 10
    est, lo, hi = quantile(hist, 0.99)
    assert lo == 0.01 and math.isinf(hi)
    assert math.isnan(quantile(Histogram(), 0.5)[0])


def test_raw_analysis_is_exact_and_skips_the_ramp() -> None:
    rng = np.random.default_rng(0)
    lat = rng.exponential(3.0, 1000)
    rows = [(100.0 + i * 0.01, float(x), "/predict", 1 + i % 3, "") for i, x in enumerate(lat)]
    rows += [(100.5, 1.0, "/livez", 0, "")]
    rows[500] = (*rows[500][:4], "HTTP 503: busy")
    out = analyze_raw(rows, warmup_s=2.0)
    kept = lat[200:]
    assert out["count"] == 800 and out["failures"] == 1
    assert out["p99_ms"] == pytest.approx(np.percentile(kept, 99))
    assert out["rps"] == pytest.approx(100, rel=0.02)
    assert out["failure_reasons"] == {"HTTP 503: busy": 1}


def test_achieved_rate_is_exact_for_paced_users_with_clustered_phases() -> None:
    # 12 users at 1 request/s, phases bunched in the first half of each second: counting starts
    # between the first and the last start would overcount by almost a whole cluster
    rows = [(10.0 + k + u * 0.04, 5.0, "/predict", 1, "", u + 1) for k in range(5) for u in range(12)]
    out = analyze_raw(rows)
    assert out["rps"] == pytest.approx(12.0)
    naive = sum(1 for r in rows if r[0] < max(x[0] for x in rows)) / (14.44 - 10.0)
    assert naive > 13  # what the old estimator said


def test_slo_file_is_checked_strictly(tmp_path) -> None:
    slo = load_slo(mode="smoke")  # the shipped file parses
    assert slo["max_failure_ratio"] == 0
    bad = tmp_path / "slo.toml"
    bad.write_text("[smoke]\np99ms = 5\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_slo(bad, "smoke")
    with pytest.raises(ValueError, match="no \\[latency\\]"):
        load_slo(bad, "latency")
    bad.write_text("[smoke]\np99_ms = 'fast'\n")
    with pytest.raises(ValueError, match="number"):
        load_slo(bad, "smoke")


def test_slo_checks_each_gate_and_nan_never_passes() -> None:
    slo = {"max_failure_ratio": 0.01, "p95_ms": 10, "p99_ms": 20, "min_rps": 100}
    good = {"count": 1000, "failures": 10, "rps": 100, "p95_ms": 10, "p99_ms": 20}
    assert all(c.ok for c in check(slo, good))
    for key, value in (("failures", 11), ("rps", 99.9), ("p95_ms", 10.1), ("p99_ms", math.nan)):
        failed = [c.name for c in check(slo, {**good, key: value}) if not c.ok]
        assert len(failed) == 1, (key, failed)


def _step(users: int, rps: float, p99: float, failures: int = 0) -> dict:
    return {"users": users, "steady": {"count": 1000, "failures": failures, "rps": rps,
                                       "p99_ms": p99}}


def test_capacity_stepping_stops_at_the_knee_or_a_broken_gate() -> None:
    slo = {"max_failure_ratio": 0.001, "p99_ms": 100}
    steps = [_step(1, 100, 10), _step(2, 190, 12)]
    assert stop_reason(steps, slo) is None
    assert stop_reason(steps + [_step(4, 195, 30)], slo) is None  # one flat step: go on
    assert stop_reason(steps + [_step(4, 195, 30), _step(8, 180, 60)], slo).startswith("knee")
    assert stop_reason(steps + [_step(4, 195, 30), _step(8, 260, 60)], slo) is None
    assert "p99" in stop_reason(steps + [_step(4, 300, 150)], slo)
    assert "failure" in stop_reason(steps + [_step(4, 300, 50, failures=5)], slo)
    # capacity: best rate among steps within the gates, never one that broke them
    best = capacity_of(steps + [_step(4, 300, 150), _step(8, 250, 90)], slo)
    assert best["users"] == 8
    assert capacity_of([_step(1, 10, 500)], slo) is None
    assert user_steps(1, 20) == [1, 2, 4, 8, 16, 20] and user_steps(4, 4) == [4]


def test_a_paced_run_more_than_5_percent_short_is_invalid() -> None:
    assert rate_validity(100, 95.0)[1] is True
    assert rate_validity(100, 94.9)[1] is False
    assert rate_validity(100, 120)[1] is True
    assert latency_users(100, 5) == 20 and latency_users(1, 5) == 2


def test_predict_response_checks_give_reasons() -> None:
    good = json.dumps({"results": [{"label": "positive", "score": 0.9}] * 2}).encode()
    assert check_predict(200, good, 2, {"positive", "negative"}) is None
    assert check_predict(200, good, 3).startswith("expected 3 results")
    assert check_predict(503, b'{"error":"busy"}', 1).startswith("HTTP 503")
    assert check_predict(200, b"<html>", 1) == "response is not JSON"
    assert "bad label" in check_predict(200, good, 2, {"neg", "pos"})
    bad_score = json.dumps({"results": [{"label": "positive", "score": 1.5}]}).encode()
    assert "bad score" in check_predict(200, bad_score, 1)


def test_locustfile_run_by_hand_refuses_remote_hosts_and_unbounded_runs() -> None:
    import subprocess
    import sys

    from load_tests.locust_run import LOCUSTFILE

    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "1"]
    runs = [subprocess.Popen(base + args + ["PredictUser"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for args in (["-t", "2s", "--host", "http://192.0.2.1:3000"],
                         ["--host", "http://127.0.0.1:9"])]
    (_, remote_err), (_, unbounded_err) = (proc.communicate(timeout=60) for proc in runs)
    assert runs[0].returncode != 0 and "only target loopback" in remote_err
    assert runs[1].returncode != 0 and "--run-time" in unbounded_err


def test_cpu_split_uses_the_samples_inside_the_window() -> None:
    from load_tests.locust_run import cpu_split

    # (time, locust cpu s, server cpu s, machine busy cpu s); Locust busy only at start-up
    samples = [(0.0, 0.0, 0.0, 0.0), (1.0, 2.0, 0.1, 2.1), (2.0, 2.2, 1.1, 3.4),
               (3.0, 2.4, 2.1, 4.7), (4.0, 2.5, 2.2, 5.0)]
    cpu = cpu_split(samples, 1.0, 3.0)
    assert cpu["wall_s"] == 2.0
    assert cpu["locust_cores"] == pytest.approx(0.2) and cpu["server_cores"] == pytest.approx(1.0)
    assert cpu["machine_busy_cores"] == pytest.approx(1.3)
    assert math.isnan(cpu_split(samples, 1.0, 3.0, server_known=False)["server_cores"])
