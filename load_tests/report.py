"""The report of a load test: a PNG chart over time and a one-screen summary table."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

Row = tuple[float, float, str, int, str, int]


def per_second(rows: list[Row], name: str = "/predict", t0: float | None = None) -> dict:
    """Exact p50/p95/p99 (ms) and requests/s in 1-second bins of request start time."""
    mine = sorted((r for r in rows if r[2] == name), key=lambda r: r[0])
    if not mine:
        return {"t": np.array([]), "rps": np.array([]), "p50": np.array([]),
                "p95": np.array([]), "p99": np.array([])}
    start = mine[0][0] if t0 is None else t0
    bins: dict[int, list[float]] = {}
    for r in mine:
        bins.setdefault(int(r[0] - start), []).append(r[1])
    secs = sorted(bins)
    if len(secs) > 2:
        secs = secs[:-1]  # the last second is cut short by the end of the run
    out = {"t": np.array(secs, dtype=float),
           "rps": np.array([len(bins[s]) for s in secs], dtype=float)}
    for p in (50, 95, 99):
        out[f"p{p}"] = np.array([np.percentile(bins[s], p) for s in secs])
    return out


def plot(series: dict, path: Path, title: str, marks: list[tuple[float, str]] | None = None,
         target_rps: float | None = None) -> Path:
    """Two panels sharing time: latency percentiles (log ms) and requests/s."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    for p, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
        if series["t"].size:
            ax1.plot(series["t"], series[p], style, label=p)
    ax1.set_yscale("log")
    ax1.set_ylabel("latency (ms, exact, per second)")
    ax1.legend(loc="upper left")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.set_title(title)
    ax2.plot(series["t"], series["rps"], color="tab:green", label="requests/s achieved")
    if target_rps:
        ax2.axhline(target_rps, color="tab:red", ls="--", label=f"target {target_rps:.1f}/s")
    ax2.set_ylabel("POST /predict requests/s")
    ax2.set_xlabel("seconds since the first request")
    ax2.grid(True, alpha=0.3)
    for x, label in marks or []:
        for ax in (ax1, ax2):
            ax.axvline(x, color="grey", lw=0.8, alpha=0.6)
        ax2.text(x, ax2.get_ylim()[1] * 0.95, label, fontsize=7, va="top")
    ax2.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _fmt(x: float | int | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def latency_table(locust: dict, raw: dict, server: dict) -> str:
    """Locust (rounded) vs the client's exact times vs the server's histogram, side by side."""
    lines = [f"{'POST /predict':<14}{'Locust':>12}{'client exact':>14}{'server hist':>14}",
             "-" * 54]
    rows = [("requests", "count", 0), ("failures", "failures", 0), ("req/s", "rps", 1),
            ("mean ms", "mean_ms", 2), ("p50 ms", "p50_ms", 2), ("p95 ms", "p95_ms", 2),
            ("p99 ms", "p99_ms", 2)]
    for label, key, digits in rows:
        lines.append(f"{label:<14}{_fmt(locust.get(key), digits):>12}"
                     f"{_fmt(raw.get(key), digits):>14}{_fmt(server.get(key), digits):>14}")
    for p in (50, 95, 99):
        b = server.get(f"p{p}_bucket_ms")
        if b:
            lines.append(f"  server p{p} lies in bucket ({_fmt(b[0])}, {_fmt(b[1])}] ms")
    return "\n".join(lines)


def cpu_line(cpu: dict, rps: float = 0.0) -> str:
    """Where the machine's cores went during the steady window, and server CPU per request."""
    srv = cpu["server_cores"]
    other = cpu["machine_busy_cores"] - cpu["locust_cores"] - (0.0 if math.isnan(srv) else srv)
    per_req = 1000 * srv / rps if rps and not math.isnan(srv) else math.nan
    return (f"CPU in the steady {cpu['wall_s']:.1f}s (of {cpu['cores']} cores): server "
            f"{_fmt(srv)}, locust {_fmt(cpu['locust_cores'])}, everything else "
            f"{_fmt(max(other, 0.0))}, machine busy {_fmt(cpu['machine_busy_cores'])}; "
            f"server CPU {_fmt(per_req)} ms per request")
