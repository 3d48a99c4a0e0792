"""Service level: one load generator (bench.loadgen) against three servers on 127.0.0.1.

Targets, all on the same machine at the same time, each fed real test-split texts:

* ``service`` — our BentoML service (adaptive batching) on the bundle;
* ``bare`` — bench.bare_server: bare Starlette/uvicorn + onnxruntime on the same bundle;
* ``nobatch_plain`` — BentoML without batching on the plain tf2onnx export of the same weights.

For 1-text and 32-text requests, per target: **capacity** (closed loop, saturation rate),
**throughput at equal p99** (the highest open-loop rate whose p99 stays within the same bound
for every target and whose achieved rate reaches 95% of the offered one, found by bisection),
and **p50/p99 at a fixed rate** (half of our service's capacity, the same rate for every target).
Each figure is the median of ``repeats`` rounds; targets are interleaved within a round.
"""

from __future__ import annotations

import json
import logging
import statistics
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.servers import running_targets, service_settings
from core.paths import PROJECT_ROOT as REPO_ROOT
from devtools.loadgen import LoadSpec, run_load

log = logging.getLogger(__name__)

TEXTS_FILE = REPO_ROOT / "load_tests" / "data" / "test_texts.json"
TARGETS = ("service", "bare", "nobatch_plain")
LABELS = {"service": "our BentoML service (adaptive batching)",
          "bare": "bare Starlette/uvicorn + onnxruntime (bench/bare_server.py)",
          "nobatch_plain": "BentoML without batching, plain tf2onnx export"}
PASS_RATIO = 0.95  # an open-loop run counts only if it achieved this share of the offered rate


@dataclass
class ServiceBenchConfig:
    """Durations, bounds and sizes of the service-level benchmark."""

    sizes: tuple[int, ...] = (1, 32)
    repeats: int = 3
    connections: int = 32
    capacity_s: float = 3.0
    step_s: float = 2.0
    search_steps: int = 5
    fixed_s: float = 3.0
    warmup_s: float = 0.5
    min_requests: int = 25  # open-loop runs last long enough for this many requests ...
    max_run_s: float = 10.0  # ... but never longer than this
    p99_bounds_ms: dict[int, float] = field(default_factory=lambda: {1: 10.0, 32: 50.0})
    service_env: dict[str, str] = field(default_factory=lambda: {"SENTIMENT_ACCESS_LOG": "false"})

    @classmethod
    def quick(cls) -> ServiceBenchConfig:
        """The smoke version (``--quick``): one round, short runs, 3 bisection steps."""
        return cls(repeats=1, capacity_s=0.6, step_s=0.5, search_steps=3, fixed_s=0.6,
                   warmup_s=0.15, min_requests=10, max_run_s=2.0)


def load_texts(path: Path = TEXTS_FILE) -> list[str]:
    """The committed sample of real test-split texts (load_tests/data/test_texts.json)."""
    return list(json.loads(path.read_text(encoding="utf-8"))["texts"])


def request_bodies(texts: list[str], size: int) -> list[bytes]:
    """JSON bodies of ``size`` consecutive texts each, cycling through ``texts``."""
    n = max(1, len(texts) // size)
    return [json.dumps({"texts": texts[i * size:(i + 1) * size]}).encode() for i in range(n)]


def post_json(url: str, payload: dict, timeout: float = 10.0) -> dict:
    """One POST to a loopback server, decoded."""
    req = urllib.request.Request(url, json.dumps(payload).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def load(url: str, bodies: list[bytes], seconds: float, cfg: ServiceBenchConfig, pid: int,
         rate: float | None = None) -> dict:
    if rate:  # enough requests for a p99 at low rates, within the bound on run time
        seconds = max(seconds, min(cfg.min_requests / rate + cfg.warmup_s, cfg.max_run_s))
    spec = LoadSpec(url, bodies, duration_s=seconds, rate=rate, connections=cfg.connections,
                    warmup_s=min(cfg.warmup_s, seconds / 3))
    out = run_load(spec, pid)
    log.debug("%s rate %s for %.2f s: %.2f s wall, %d requests, p99 %s ms", url, rate, seconds,
              out["cpu"]["wall_s"], out["requests"], out["p99_ms"])
    return out


def passes(run: dict, bound_ms: float) -> bool:
    """An open-loop run within the p99 bound, without errors, at (nearly) the offered rate."""
    return (run["errors"] == 0 and run["requests"] > 0 and run["p99_ms"] is not None
            and run["p99_ms"] <= bound_ms
            and run["achieved_ratio"] >= PASS_RATIO)


def rate_at_p99(url: str, bodies: list[bytes], capacity: float, bound_ms: float,
                cfg: ServiceBenchConfig, pid: int) -> dict:
    """Bisect the open-loop rate in (0, 1.1 x capacity] for the highest one that passes."""
    lo, hi, best = 0.0, 1.1 * max(capacity, 1.0), None
    for _ in range(cfg.search_steps):
        mid = (lo + hi) / 2
        run = load(url, bodies, cfg.step_s, cfg, pid, rate=mid)
        if passes(run, bound_ms):
            lo, best = mid, run
        else:
            hi = mid
    if best is None:
        return {"rps": 0.0, "p50_ms": None, "p99_ms": None, "bound_ms": bound_ms, "found": False}
    return {"rps": best["achieved_rps"], "offered_rps": lo, "p50_ms": best["p50_ms"],
            "p99_ms": best["p99_ms"], "bound_ms": bound_ms, "found": True, "cpu": best["cpu"]}


def scrape_batch(url: str) -> tuple[float, float] | None:
    """(count, sum) of the service's texts-per-batch histogram, or None without /metrics."""
    from devtools.promtext import samples

    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    count = sum(s["value"] for s in samples(text, "sentiment_batch_texts_count"))
    total = sum(s["value"] for s in samples(text, "sentiment_batch_texts_sum"))
    return count, total


def measure_size(procs: dict, size: int, bodies: list[bytes], cfg: ServiceBenchConfig) -> dict:
    """One round for one request size: capacity, rate at the p99 bound and the fixed rate."""
    out: dict = {}
    for name in TARGETS:
        p = procs[name]
        url = f"{p.url}/predict"
        load(url, bodies, cfg.warmup_s + 0.2, cfg, p.proc.pid)  # warm connections and caches
        cap = load(url, bodies, cfg.capacity_s, cfg, p.proc.pid)
        out[name] = {"capacity": cap, "at_p99": rate_at_p99(
            url, bodies, cap["achieved_rps"], cfg.p99_bounds_ms[size], cfg, p.proc.pid)}
    fixed_rate = 0.5 * out["service"]["capacity"]["achieved_rps"]
    for name in TARGETS:
        p = procs[name]
        before = scrape_batch(p.url) if name == "service" else None
        out[name]["fixed"] = load(f"{p.url}/predict", bodies, cfg.fixed_s, cfg, p.proc.pid,
                                  rate=fixed_rate)
        after = scrape_batch(p.url) if before else None
        if before and after and after[0] > before[0]:
            out[name]["fixed"]["mean_batch_texts"] = (after[1] - before[1]) / (after[0] - before[0])
    return out


def median_of(rounds: list[dict], *keys: str) -> float | None:
    """Median of a nested figure over rounds (None values skipped)."""
    vals = []
    for r in rounds:
        for k in keys:
            r = r.get(k) if isinstance(r, dict) else None
        if isinstance(r, int | float):
            vals.append(float(r))
    return statistics.median(vals) if vals else None


FIGURES = {"capacity_rps": ("capacity", "achieved_rps"), "capacity_p99_ms": ("capacity", "p99_ms"),
           "rps_at_p99": ("at_p99", "rps"), "p99_at_bound_ms": ("at_p99", "p99_ms"),
           "fixed_offered_rps": ("fixed", "offered_rps"),
           "fixed_achieved_rps": ("fixed", "achieved_rps"), "fixed_p50_ms": ("fixed", "p50_ms"),
           "fixed_p99_ms": ("fixed", "p99_ms"), "fixed_errors": ("fixed", "errors"),
           "fixed_mean_batch_texts": ("fixed", "mean_batch_texts"),
           "fixed_client_cores": ("fixed", "cpu", "client_cores"),
           "fixed_server_cores": ("fixed", "cpu", "server_cores"),
           "capacity_client_cores": ("capacity", "cpu", "client_cores"),
           "capacity_server_cores": ("capacity", "cpu", "server_cores")}


def summarize_size(rounds: list[dict], size: int, cfg: ServiceBenchConfig) -> dict:
    """Medians per target plus the ratios the targets are judged by."""
    targets = {name: {k: median_of([r[name] for r in rounds], *path) for k, path in FIGURES.items()}
               for name in TARGETS}
    for t in targets.values():
        t["texts_per_s_at_p99"] = (t["rps_at_p99"] or 0.0) * size

    def ratio(a: str, b: str, key: str) -> float | None:
        x, y = targets[a][key], targets[b][key]
        return x / y if x is not None and y else None

    return {"texts_per_request": size, "p99_bound_ms": cfg.p99_bounds_ms[size],
            "targets": targets,
            "ratios": {"service_vs_bare_at_p99": ratio("service", "bare", "rps_at_p99"),
                       "service_vs_nobatch_plain_at_p99": ratio("service", "nobatch_plain", "rps_at_p99"),
                       "service_vs_bare_capacity": ratio("service", "bare", "capacity_rps"),
                       "service_vs_nobatch_plain_capacity": ratio("service", "nobatch_plain",
                                                                  "capacity_rps")}}


def run_service_bench(bundle: Path, plain: Path | Callable[[], Path],
                      cfg: ServiceBenchConfig | None = None, texts: list[str] | None = None,
                      while_starting: Callable[[], object] | None = None) -> dict:
    """The whole service-level benchmark; returns a JSON-ready dict. ``plain`` (or a callable
    that builds it) and ``while_starting`` overlap with the servers' start-up (see
    bench.servers.running_targets)."""
    cfg = cfg or ServiceBenchConfig()
    texts = texts or load_texts()
    rounds: dict[int, list[dict]] = {s: [] for s in cfg.sizes}
    resolved: list[Path] = []

    def plain_path() -> Path:
        resolved.append(plain() if callable(plain) else plain)
        return resolved[-1]

    with running_targets(bundle, plain_path, cfg.service_env, while_starting) as procs:
        for rep in range(cfg.repeats):
            for size in cfg.sizes:
                log.info("service bench: round %d/%d, %d-text requests", rep + 1, cfg.repeats, size)
                rounds[size].append(measure_size(procs, size, request_bodies(texts, size), cfg))
    st = service_settings(cfg.service_env)
    settings = {k: getattr(st, k) for k in ("workers", "ort_threads", "max_batch_size",
                                            "max_latency_ms", "access_log")}
    config = {**asdict(cfg), "p99_bounds_ms": {str(k): v for k, v in cfg.p99_bounds_ms.items()}}
    return {"service_settings": settings, "config": config,
            "bundle": str(bundle), "plain_bundle": str(resolved[-1]), "targets": LABELS,
            "sizes": {str(s): summarize_size(rounds[s], s, cfg) for s in cfg.sizes},
            "rounds": {str(s): rounds[s] for s in cfg.sizes}}
