"""Serving-settings sweep: the evidence behind the service's workers/threads/batching defaults.

For each configuration (SENTIMENT_* overrides of the service's defaults) one real server is
started and measured with bench.loadgen, for 1-text and 32-text requests: capacity (closed
loop) and p50/p99 at one fixed open-loop rate per request size — half of the *first*
configuration's capacity, the same rate for every configuration — plus the mean texts per
onnxruntime batch and the server/generator CPU split. Medians of ``repeats`` rounds.

    python -m bench.sweep [--seconds 3] [--repeats 1] [--json bench/sweep.json]
"""

from __future__ import annotations

import argparse
import logging
import signal
import statistics
import sys
from pathlib import Path

from bench.fused_bundle import fused_bundle
from bench.report import write_results
from bench.servers import bentoml_process
from bench.service_bench import ServiceBenchConfig as Cfg
from bench.service_bench import load, load_texts, request_bodies, scrape_batch
from core.paths import default_model_dir

log = logging.getLogger(__name__)

CONFIGS: dict[str, dict[str, str]] = {
    "defaults": {},
    "access log on": {"SENTIMENT_ACCESS_LOG": "true"},
    "workers=1, ort_threads=1": {"SENTIMENT_WORKERS": "1", "SENTIMENT_ORT_THREADS": "1"},
    "workers=1, ort_threads=2": {"SENTIMENT_WORKERS": "1", "SENTIMENT_ORT_THREADS": "2"},
    "max_batch_size=8": {"SENTIMENT_MAX_BATCH_SIZE": "8"},
    "max_batch_size=128": {"SENTIMENT_MAX_BATCH_SIZE": "128"},
    "max_latency_ms=20": {"SENTIMENT_MAX_LATENCY_MS": "20"},
    "max_latency_ms=100": {"SENTIMENT_MAX_LATENCY_MS": "100"},
    "max_latency_ms=1000": {"SENTIMENT_MAX_LATENCY_MS": "1000"},
    "tokenizer threads on": {"TOKENIZERS_PARALLELISM": "true"},
}
BASE_ENV = {"SENTIMENT_ACCESS_LOG": "false"}


def measure_config(bundle: Path, env: dict[str, str], rates: dict[int, float] | None,
                   cfg: Cfg, texts: list[str]) -> dict:
    """One server: per size, capacity then (if ``rates`` is known) the fixed-rate run."""
    out: dict = {}
    with bentoml_process(bundle, {**BASE_ENV, **env}) as proc:
        pid, url = proc.proc.pid, f"{proc.url}/predict"
        for size in cfg.sizes:
            bodies = request_bodies(texts, size)
            load(url, bodies, cfg.warmup_s + 0.2, cfg, pid)
            cap = load(url, bodies, cfg.capacity_s, cfg, pid)
            rate = (rates or {}).get(size) or 0.5 * cap["achieved_rps"]
            before = scrape_batch(proc.url)
            fixed = load(url, bodies, cfg.fixed_s, cfg, pid, rate=rate)
            after = scrape_batch(proc.url)
            if before and after and after[0] > before[0]:
                fixed["mean_batch_texts"] = (after[1] - before[1]) / (after[0] - before[0])
            out[size] = {"capacity": cap, "fixed": fixed}
    return out


def _median(runs: list[dict], part: str, key: str) -> float | None:
    vals = [r[part].get(key) for r in runs if r[part].get(key) is not None]
    return statistics.median(vals) if vals else None


def run_sweep(bundle: Path, configs: dict[str, dict[str, str]] | None = None,
              cfg: Cfg | None = None, texts: list[str] | None = None) -> dict:
    """Every configuration, interleaved over ``cfg.repeats`` rounds; returns medians."""
    configs = configs or CONFIGS
    cfg = cfg or Cfg(repeats=1)
    texts = texts or load_texts()
    raw: dict[str, list[dict]] = {name: [] for name in configs}
    rates: dict[int, float] | None = None
    for rep in range(cfg.repeats):
        for name, env in configs.items():
            log.info("sweep round %d: %s", rep + 1, name)
            res = measure_config(bundle, env, rates, cfg, texts)
            rates = rates or {s: res[s]["fixed"]["offered_rps"] for s in cfg.sizes}
            raw[name].append(res)
    table = {name: {str(s): {"capacity_rps": _median([r[s] for r in runs], "capacity", "achieved_rps"),
                             "fixed_rps": rates[s],
                             "fixed_achieved_rps": _median([r[s] for r in runs], "fixed", "achieved_rps"),
                             "p50_ms": _median([r[s] for r in runs], "fixed", "p50_ms"),
                             "p99_ms": _median([r[s] for r in runs], "fixed", "p99_ms"),
                             "mean_batch_texts": _median([r[s] for r in runs], "fixed", "mean_batch_texts"),
                             "server_cores": statistics.median(r[s]["fixed"]["cpu"]["server_cores"]
                                                               for r in runs)}
                     for s in cfg.sizes} for name, runs in raw.items()}
    return {"bundle": str(bundle), "configs": configs, "base_env": BASE_ENV,
            "repeats": cfg.repeats, "table": table}


def markdown(result: dict) -> str:
    lines = ["| settings (SENTIMENT_*) | texts/request | capacity req/s | fixed rate req/s "
             "(achieved) | p50 ms | p99 ms | texts/batch | server cores |",
             "|---|---|---|---|---|---|---|---|"]
    for name, sizes in result["table"].items():
        for size, t in sizes.items():
            def f(x: float | None, spec: str = ".1f") -> str:
                return "n/a" if x is None else format(x, spec)
            lines.append(f"| {name} | {size} | {f(t['capacity_rps'])} | {f(t['fixed_rps'])} "
                         f"({f(t['fixed_achieved_rps'])}) | {f(t['p50_ms'], '.2f')} | "
                         f"{f(t['p99_ms'], '.2f')} | {f(t['mean_batch_texts'])} | "
                         f"{f(t['server_cores'], '.2f')} |")
    return "\n".join(lines)


def interrupted(signum: int, frame: object) -> None:
    """SIGTERM -> KeyboardInterrupt, so running servers are stopped on the way out."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=default_model_dir())
    p.add_argument("--seconds", type=float, default=3.0, help="per capacity / fixed-rate run")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--only", action="append", choices=list(CONFIGS), help="configurations to run")
    p.add_argument("--json", type=Path, default=None, help="write the result here too")
    p.add_argument("--as-is", action="store_true", help="serve --model even if it is a plain "
                   "tf2onnx graph (default: its fused re-export, as the benchmark does)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, interrupted)
    cfg = Cfg(repeats=args.repeats, capacity_s=args.seconds, fixed_s=args.seconds)
    configs = {k: CONFIGS[k] for k in args.only} if args.only else CONFIGS
    texts = load_texts()
    bundle = args.model if args.as_is else fused_bundle(args.model, texts)
    result = run_sweep(bundle, configs, cfg, texts)
    if args.json:
        write_results(args.json, result)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
