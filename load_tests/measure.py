"""One measured Locust run: server histogram before/after, Locust's stats, exact client stats."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from load_tests.locust_run import LocustSpec, cpu_split, run_locust
from load_tests.results import analyze_raw, by_size, read_locust_stats, read_raw
from load_tests.server_metrics import batch_mean, fetch_metrics, parse_histogram, summarize

log = logging.getLogger(__name__)


def _scrape(host: str) -> str | None:
    try:
        return fetch_metrics(host)
    except OSError as exc:
        log.warning("could not read %s/metrics: %s", host, exc)
        return None


def server_view(before: str | None, after: str | None) -> dict:
    """Percentiles of the requests the server saw between two scrapes (empty if unavailable)."""
    if before is None or after is None:
        return {}
    hist_after = parse_histogram(after)
    if not hist_after.buckets:
        return {}
    out = summarize(hist_after.minus(parse_histogram(before)))
    out["mean_batch_texts"] = batch_mean(before, after)
    return out


def measure(spec: LocustSpec, server_pid: int | None, warmup_s: float) -> dict:
    """Run Locust once and gather every view of its latency, plus the CPU split."""
    before = _scrape(spec.host)
    run = run_locust(spec, server_pid)
    after = _scrape(spec.host)
    rows = read_raw(Path(f"{spec.prefix}_raw.csv"))
    steady = analyze_raw(rows, warmup_s=warmup_s)
    cpu = cpu_split(run["samples"], steady.get("t_first", 0.0), steady.get("t_last", 0.0),
                    run["server_known"])
    return {"name": spec.name, "users": spec.users, "pace": spec.pace,
            "command": " ".join(run["command"]), "cpu": cpu,
            "locust": read_locust_stats(spec.prefix),
            "client_all": analyze_raw(rows, warmup_s=0.0),
            "steady": steady,
            "by_size": by_size(rows),
            "server": server_view(before, after),
            "other_failures": sum(1 for r in rows if r[2] != "/predict" and r[4]),
            "rows": rows}


def within(step: dict, slo: dict[str, float]) -> tuple[bool, str]:
    """Whether a step's steady window meets the failure and p99 gates, and why not."""
    s = step["steady"]
    ratio = s["failures"] / s["count"] if s["count"] else math.nan
    if not s["count"]:
        return False, "no requests"
    if ratio > slo.get("max_failure_ratio", math.inf):
        return False, f"failure ratio {ratio:.4f} > {slo['max_failure_ratio']:g}"
    if not s["p99_ms"] <= slo.get("p99_ms", math.inf):
        return False, f"p99 {s['p99_ms']:.1f} ms > {slo['p99_ms']:g} ms"
    return True, "ok"
