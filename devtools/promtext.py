"""Reading a server's Prometheus ``/metrics`` text with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str, name: str) -> list[dict]:
    """Every sample whose name is exactly ``name``: ``{"labels": {...}, "value": float}``."""
    return [{"labels": dict(s.labels), "value": float(s.value)}
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == name]


def histogram(text: str, name: str) -> dict:
    """A histogram summed over its label sets: ``{"count": n, "buckets": {le: cumulative n}}``."""
    buckets: dict[float, float] = {}
    for s in samples(text, f"{name}_bucket"):
        le = float(s["labels"]["le"])
        buckets[le] = buckets.get(le, 0.0) + s["value"]
    count = sum(s["value"] for s in samples(text, f"{name}_count"))
    return {"count": count, "buckets": buckets}
