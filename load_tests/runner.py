"""`sentiment loadtest`: start (or target) a loopback server, run a mode, report, gate on SLOs.

Modes: smoke, capacity, latency, full (capacity, then latency at --fraction of the capacity just
measured). Everything a run produces lands in one results folder: Locust's CSV files and HTML
report per run, the raw latency logs, chart.png, summary.txt and summary.json.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from load_tests import modes, summary
from load_tests.locust_run import listener_pid, require_loopback
from load_tests.make_fixture import DEFAULT_OUT as DEFAULT_TEXTS
from load_tests.make_fixture import load_texts
from load_tests.slo import DEFAULT_SLO, load_slo

log = logging.getLogger(__name__)
RESULTS = Path(__file__).resolve().parent / "results"
# finer request-duration buckets for the server started here (BentoML's default starts at 5 ms)
BUCKETS = [0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01,
           0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0]
MODES = ("smoke", "capacity", "latency", "full")


@dataclass
class Options:
    """Everything `sentiment loadtest` can be told."""

    mode: str = "full"
    host: str | None = None
    model: Path | None = None
    service_env: dict[str, str] = field(default_factory=dict)
    slo_file: Path = DEFAULT_SLO
    out: Path | None = None
    users: int | None = None
    start_users: int = 1
    max_users: int = 64
    step_s: int = 12
    duration_s: int = 30
    rate: float | None = None
    fraction: float = 0.5
    per_user_rate: float = 5.0
    max_requests: int = 200_000
    single_weight: int = 3
    batch_weight: int = 1
    batch_size: int = 8
    texts_file: Path | None = None


def validate(opts: Options) -> None:
    """Reject impossible settings before anything starts."""
    if opts.mode not in MODES:
        raise ValueError(f"unknown mode {opts.mode!r}; use one of {', '.join(MODES)}")
    if opts.host:
        opts.host = require_loopback(opts.host)
    if opts.mode == "latency" and not opts.rate:
        raise ValueError("--mode latency needs --rate (--mode full measures capacity first)")
    if not 0 < opts.fraction <= 1:
        raise ValueError("--fraction must be in (0, 1]")
    for name in ("step_s", "duration_s", "max_requests", "max_users"):
        if getattr(opts, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if opts.rate is not None and opts.rate <= 0:
        raise ValueError("--rate must be > 0")
    if opts.users is not None and opts.users < 1 or opts.per_user_rate <= 0:
        raise ValueError("--users must be >= 1 and --per-user-rate > 0")
    modes.user_steps(opts.start_users, opts.max_users)  # 1 <= start <= max
    if opts.model is not None and not (opts.model / "card.json").is_file():
        raise FileNotFoundError(f"no model bundle at {opts.model} (card.json missing)")
    if min(opts.single_weight, opts.batch_weight) < 0 or opts.single_weight + opts.batch_weight < 1:
        raise ValueError("--single-weight and --batch-weight must be >= 0 and not both 0")
    if opts.batch_size < 2:
        raise ValueError("--batch-size must be >= 2")
    load_texts(opts.texts_file or DEFAULT_TEXTS)  # a missing or bad fixture fails here


@contextlib.contextmanager
def target(opts: Options, out: Path) -> Iterator[tuple[str, int | None]]:
    """Yield (base URL, server pid): the given --host, or a server started (and stopped) here."""
    if opts.host:
        yield opts.host, listener_pid(opts.host)  # for the CPU split, when it can be found
        return
    from devtools.launcher import ServiceProcess

    env = dict(opts.service_env)
    if opts.model is not None:
        env["SENTIMENT_MODEL_DIR"] = str(opts.model.resolve())
    if "BENTOML_CONFIG_OVERRIDES" not in os.environ:
        env["BENTOML_CONFIG_OVERRIDES"] = json.dumps(
            {"services": {"sentiment": {"metrics": {"duration": {"buckets": BUCKETS}}}}})
    t0 = time.monotonic()
    # ServiceProcess gives the server its own BENTOML_HOME, hence its own metrics directory
    with ServiceProcess(env, log_path=out / "server.log") as svc:
        log.info("server ready at %s in %.1fs", svc.url, time.monotonic() - t0)
        yield svc.url, svc.proc.pid


def _plan(opts: Options, host: str, pid: int | None, out: Path) -> modes.Plan:
    return modes.Plan(host, out, pid, opts.max_requests, opts.single_weight, opts.batch_weight,
                      opts.batch_size, opts.texts_file)


def execute(opts: Options, plan: modes.Plan) -> tuple[list[str], bool, dict]:
    """Run the chosen mode(s); return summary text blocks, overall pass and the raw results."""
    texts, ok, results = [], True, {}
    if opts.mode == "smoke":
        res = modes.run_smoke(plan, users=opts.users or 4, duration_s=opts.duration_s)
        summary.chart_run(res["run"], plan.out_dir / "chart.png", "smoke")
        text, ok = summary.smoke_summary(res, load_slo(opts.slo_file, "smoke"))
        return [text], ok, {"smoke": res}
    rate = opts.rate
    if opts.mode in ("capacity", "full"):
        slo = load_slo(opts.slo_file, "capacity")
        users = modes.user_steps(opts.start_users, opts.max_users)
        res = modes.run_capacity(plan, slo, users, opts.step_s)
        summary.chart_capacity(res, plan.out_dir / "capacity.png")
        text, ok = summary.capacity_summary(res, slo)
        texts.append(text)
        results["capacity"] = res
        rate = opts.fraction * res["capacity_rps"]
    if opts.mode in ("latency", "full"):
        if not rate:
            texts.append("latency run skipped: no capacity was measured\nVERDICT: FAIL")
            return texts, False, results
        users = opts.users or modes.latency_users(rate, opts.per_user_rate)
        res = modes.run_latency(plan, rate, opts.duration_s, users)
        summary.chart_run(res["run"], plan.out_dir / "latency.png",
                          f"latency at {rate:.0f} req/s (paced)", target=rate)
        text, lat_ok = summary.latency_summary(res, load_slo(opts.slo_file, "latency"))
        texts.append(text)
        results["latency"] = res
        ok = ok and lat_ok
    return texts, ok, results


def run(opts: Options) -> int:
    """The whole command: validate, serve, load, report; 0 when every SLO held, else 1."""
    validate(opts)
    # importing matplotlib takes seconds on a busy machine: do it while the server starts
    threading.Thread(target=_preload_matplotlib, daemon=True).start()
    for mode in ("smoke",) if opts.mode == "smoke" else ("capacity", "latency"):
        load_slo(opts.slo_file, mode)  # fail fast on a bad SLO file
    out = opts.out or RESULTS / f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{opts.mode}"
    out.mkdir(parents=True, exist_ok=True)
    with target(opts, out) as (host, pid):
        meta = {"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "host": host, "model": _model_info(host), "options": asdict(opts)}
        texts, ok, results = execute(opts, _plan(opts, host, pid, out))
    model = meta["model"]
    text = (f"model {model.get('name')} {model.get('version')} at {host}\n\n"
            + "\n\n".join(texts) + f"\n\nresults: {out}")
    (out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    clean = _no_nan({"meta": meta, **{k: modes.without_rows(v) for k, v in results.items()}})
    (out / "summary.json").write_text(json.dumps(clean, indent=2, default=str) + "\n",
                                      encoding="utf-8")
    print(text)
    return 0 if ok else 1


def _model_info(host: str) -> dict:
    """Name and version of the served model (GET /model), for the record."""
    key = os.environ.get("SENTIMENT_API_KEY", "").strip()
    req = urllib.request.Request(f"{host}/model",
                                 headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = json.loads(resp.read())
    except (OSError, ValueError) as exc:
        log.warning("GET %s/model failed: %s", host, exc)
        return {}
    return {k: data.get(k) for k in ("name", "version", "architecture", "labels")}


def _preload_matplotlib() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401


def _no_nan(obj: object) -> object:
    """NaN (not valid JSON) becomes null, recursively."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_no_nan(v) for v in obj]
    return obj
