"""Read what a Locust run wrote: its CSV stats, its per-second history and our raw latency log.

Two client-side views are kept side by side: Locust's own (response times rounded to whole
milliseconds below 100 ms, coarser above) and the unrounded per-request latencies the locustfile
logs, from which exact percentiles and the achieved rate over the steady window are computed.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path

import numpy as np

PCTS = (50, 95, 99)
# (start_time epoch s, latency ms, request name, texts sent, error or '', user id or 0)
Row = tuple[float, float, str, int, str, int]


def _num(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_locust_stats(prefix: Path, name: str = "/predict") -> dict:
    """One row of Locust's {prefix}_stats.csv as numbers (count, failures, rps, p50/p95/p99)."""
    path = Path(f"{prefix}_stats.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = {r["Name"]: r for r in csv.DictReader(fh)}
    row = rows.get(name)
    if row is None:
        return {"count": 0, "failures": 0, "rps": 0.0,
                **{f"p{p}_ms": math.nan for p in PCTS}, "mean_ms": math.nan}
    out = {"count": int(row["Request Count"]), "failures": int(row["Failure Count"]),
           "rps": _num(row["Requests/s"]), "mean_ms": _num(row["Average Response Time"])}
    out.update({f"p{p}_ms": _num(row[f"{p}%"]) for p in PCTS})
    return out


def read_history(prefix: Path, name: str = "Aggregated") -> dict[str, np.ndarray]:
    """Per-second series of {prefix}_stats_history.csv: t (s), users, rps, p50/p95/p99."""
    path = Path(f"{prefix}_stats_history.csv")
    cols: dict[str, list[float]] = {k: [] for k in ("t", "users", "rps", "p50", "p95", "p99")}
    if not path.exists():
        return {k: np.array(v) for k, v in cols.items()}
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["Name"] != name:
                continue
            cols["t"].append(_num(r["Timestamp"]))
            cols["users"].append(_num(r["User Count"]))
            cols["rps"].append(_num(r["Requests/s"]))
            for p in PCTS:
                cols[f"p{p}"].append(_num(r[f"{p}%"]))
    out = {k: np.array(v, dtype=float) for k, v in cols.items()}
    if out["t"].size:
        out["t"] = out["t"] - out["t"][0]
    return out


def read_raw(path: Path) -> list[Row]:
    """Rows of the locustfile's raw log: (start_time, latency_ms, name, texts, error)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return [(float(r["start_time"]), float(r["latency_ms"]), r["name"], int(r["texts"]),
                 r["error"], int(r.get("user") or 0)) for r in reader]


def analyze_raw(rows: list[Row], name: str = "/predict",
                warmup_s: float = 0.0) -> dict:
    """Exact latency percentiles, failures and achieved rate of `name` after `warmup_s`."""
    mine = [r for r in rows if r[2] == name]
    if not mine:
        return {"count": 0, "failures": 0, "rps": 0.0, "window_s": 0.0, "texts_per_s": 0.0,
                "failure_reasons": {}, **{f"p{p}_ms": math.nan for p in PCTS}, "mean_ms": math.nan}
    t0 = min(r[0] for r in mine) + warmup_s
    steady = [r for r in mine if r[0] >= t0] or mine
    t_first = min(r[0] for r in steady)
    t_end = max(r[0] for r in steady)
    window = t_end - t_first
    started = sum(1 for r in steady if r[0] < t_end)
    rps = per_user_rate(steady)
    if rps is None:  # no user ids: starts per second in [t_first, t_end)
        rps = started / window if window > 0 else 0.0
    lat = np.array([r[1] for r in steady])
    reasons = Counter(r[4] for r in steady if r[4])
    texts = sum(r[3] for r in steady if r[0] < t_end)
    out = {"count": len(steady), "failures": sum(reasons.values()), "window_s": window,
           "t_first": t_first, "t_last": max(r[0] + r[1] / 1000 for r in steady),
           "rps": rps, "texts_per_s": rps * texts / started if started else 0.0,
           "mean_ms": float(lat.mean()), "failure_reasons": dict(reasons.most_common(3))}
    out.update({f"p{p}_ms": float(np.percentile(lat, p)) for p in PCTS})
    out["max_ms"] = float(lat.max())
    return out


def per_user_rate(rows: list[Row]) -> float | None:
    """Sum over users of (starts - 1) / (last start - first start), or None without user ids.

    Each user's own start-to-start rate is exact whatever the users' relative phases, so the
    sum does not depend on where the window edges fall among clustered starts.
    """
    starts: dict[int, list[float]] = {}
    for r in rows:
        if len(r) > 5 and r[5]:
            starts.setdefault(r[5], []).append(r[0])
    rates = [(len(ts) - 1) / (max(ts) - min(ts)) for ts in starts.values()
             if len(ts) > 1 and max(ts) > min(ts)]
    return float(sum(rates)) if rates else None


def by_size(rows: list[Row], name: str = "/predict") -> dict:
    """Exact p50/p99 split into 1-text and multi-text requests."""
    out = {}
    for label, keep in (("1 text", lambda n: n == 1), ("multi", lambda n: n > 1)):
        lat = np.array([r[1] for r in rows if r[2] == name and keep(r[3])])
        if lat.size:
            out[label] = {"count": int(lat.size), "p50_ms": float(np.percentile(lat, 50)),
                          "p99_ms": float(np.percentile(lat, 99))}
    return out
