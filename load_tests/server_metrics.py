"""The server's own view of latency: BentoML's request-duration histogram on /metrics.

Locust rounds response times to whole milliseconds and includes the client's own queueing, so
the runner scrapes the server's Prometheus histogram before and after a run, subtracts the two
and reports percentiles interpolated inside the buckets (exact only to the bucket bounds, which
are reported with them).
"""

from __future__ import annotations

import math
import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

METRIC_SUFFIX = "request_duration_seconds"


@dataclass
class Histogram:
    """Cumulative bucket counts by upper bound (seconds), plus the sum and count."""

    name: str = ""
    buckets: dict[float, float] = field(default_factory=dict)
    total: float = 0.0
    count: float = 0.0

    def minus(self, before: Histogram) -> Histogram:
        """The requests that arrived between two scrapes."""
        return Histogram(self.name, {le: c - before.buckets.get(le, 0.0)
                                     for le, c in self.buckets.items()},
                         self.total - before.total, self.count - before.count)


def fetch_metrics(base_url: str, timeout: float = 5.0) -> str:
    """GET {base_url}/metrics as text."""
    with urllib.request.urlopen(base_url.rstrip("/") + "/metrics", timeout=timeout) as resp:
        return resp.read().decode("utf-8", "replace")


def parse_histogram(text: str, endpoint: str = "/predict") -> Histogram:
    """Sum one endpoint's request-duration histogram over its other labels (codes, workers)."""
    hist = Histogram()
    for family in text_string_to_metric_families(text):
        if not family.name.endswith(METRIC_SUFFIX) or family.type != "histogram":
            continue
        for s in family.samples:
            if s.labels.get("endpoint") != endpoint:
                continue
            hist.name = family.name
            if s.name.endswith("_bucket"):
                le = float(s.labels["le"])
                hist.buckets[le] = hist.buckets.get(le, 0.0) + s.value
            elif s.name.endswith("_sum"):
                hist.total += s.value
            elif s.name.endswith("_count"):
                hist.count += s.value
    return hist


def quantile(hist: Histogram, q: float) -> tuple[float, float, float]:
    """(estimate, lower bound, upper bound) in seconds, linear inside the bucket holding q."""
    bounds = sorted(hist.buckets)
    n = hist.buckets[bounds[-1]] if bounds else 0.0
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    rank, lower, below = q * n, 0.0, 0.0
    for le in bounds:
        cum = hist.buckets[le]
        if cum >= rank:
            if math.isinf(le):
                return (lower, lower, le)
            frac = (rank - below) / (cum - below) if cum > below else 1.0
            return (lower + frac * (le - lower), lower, le)
        lower, below = le, cum
    return (lower, lower, math.inf)


def summarize(hist: Histogram, qs: tuple[float, ...] = (0.5, 0.95, 0.99)) -> dict:
    """Percentiles in ms with their bucket bounds, mean and count of a (differenced) histogram."""
    out: dict = {"metric": hist.name, "count": int(hist.count),
                 "mean_ms": 1000 * hist.total / hist.count if hist.count else math.nan}
    for q in qs:
        est, lo, hi = quantile(hist, q)
        key = f"p{round(q * 100)}"
        out[f"{key}_ms"] = 1000 * est
        out[f"{key}_bucket_ms"] = [1000 * lo, 1000 * hi]
    return out


def batch_mean(before_text: str | None, after_text: str | None) -> float:
    """Mean requests per batch between two scrapes (the in-process batcher's histogram or
    BentoML's dispatcher's, whichever is in use); NaN if unknown."""
    def totals(text: str) -> tuple[float, float]:
        s = c = 0.0
        for family in text_string_to_metric_families(text):
            if family.name.endswith(("adaptive_batch_size", "sentiment_batch_requests")):
                for sample in family.samples:
                    if sample.name.endswith("_sum"):
                        s += sample.value
                    elif sample.name.endswith("_count"):
                        c += sample.value
        return s, c
    if not before_text or not after_text:
        return math.nan
    (s0, c0), (s1, c1) = totals(before_text), totals(after_text)
    return (s1 - s0) / (c1 - c0) if c1 > c0 else math.nan
