"""One benchmark run: model level, service level and batch job on the same machine, in order.

Each part is a function of its own module (bench.model_bench, bench.service_bench,
bench.batch_bench); this module runs them, records the machine's state (load average, CPUs,
library versions), writes bench/results.json and, for full runs, bench/RESULTS.md. A part
that fails is recorded with its error and the others still run; the caller sees the failure.

The service level runs first: while its three servers start (seconds of CPU in other
processes), this process does the model level's untimed set-up (TensorFlow import, tokenized
test split), which must finish before any load is generated. Each part's wall time is logged
and recorded in ``meta.seconds``.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from bench import report
from core.paths import default_model_dir

log = logging.getLogger(__name__)
PARTS = ("model", "service", "batch", "explain")
RUN_ORDER = ("service", "model", "batch", "explain")  # see the module docstring
LIBS = ("onnxruntime", "bentoml", "tensorflow-cpu", "keras", "tf2onnx", "tokenizers", "numpy",
        "uvicorn", "starlette")


@dataclass
class BenchOptions:
    """What to run and where to write."""

    bundle: Path = field(default_factory=default_model_dir)
    quick: bool = False
    repeats: int | None = None  # default: 1 quick, 3 full
    parts: tuple[str, ...] = PARTS
    out: Path | None = None  # results.json path
    markdown: Path | None = None  # bench/RESULTS.md to write from the results (None: none)
    service_env: dict[str, str] = field(default_factory=dict)
    batch_texts: int | None = None  # cap on the batch job's corpus (default: quick 2000, full all)
    service_config: object | None = None  # a bench.service_bench.ServiceBenchConfig override
    service_bundles: tuple[Path, Path] | None = None  # (served, plain) override, skips re-exports

    @property
    def rounds(self) -> int:
        return self.repeats or (1 if self.quick else 3)

    @property
    def batch_pairs(self) -> int:
        """Raw/engine pairs of the batch job: single pairs range 0.70-0.94x, and a pair takes
        ~3.5 s, so a full run times 7 (2 x rounds + 1)."""
        return self.rounds if self.quick else 2 * self.rounds + 1


def machine() -> dict:
    """CPU count, load average and library versions, recorded next to every figure."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "libraries": report.library_versions(LIBS)}


def run_model(opts: BenchOptions, shared: dict) -> dict:
    from bench.model_bench import run

    return run(opts.bundle, quick=opts.quick, prepared=shared.get("model_prepared"))


def prepare_model(opts: BenchOptions, shared: dict) -> None:
    """The model level's set-up, done while the service level's servers start (errors are
    logged and left to the model level, which then prepares again and records them)."""
    from bench.model_engines import prepare

    start = time.monotonic()
    try:
        shared["model_prepared"] = prepare(opts.bundle)
    except Exception:
        log.exception("model-level set-up failed while the servers started")
    log.info("bench: model-level set-up done in %.1f s (while the servers start)",
             time.monotonic() - start)


def is_fused(bundle: Path) -> bool:
    """Whether the bundle's graph holds a fused LSTM/GRU node (training.fuse's export)."""
    import onnx

    from bench.plain_bundle import rnn_node
    from core.bundle import load_bundle

    return rnn_node(onnx.load(str(load_bundle(bundle).model_path)).graph) is not None


def run_service(opts: BenchOptions, shared: dict) -> dict:
    from bench.fused_bundle import fused_bundle
    from bench.plain_bundle import plain_bundle
    from bench.service_bench import ServiceBenchConfig, load_texts, run_service_bench

    cfg = opts.service_config or (ServiceBenchConfig.quick() if opts.quick else ServiceBenchConfig())
    cfg.repeats = opts.repeats or cfg.repeats
    cfg.service_env.update(opts.service_env)
    texts = load_texts()
    if opts.service_bundles:
        served, plain = opts.service_bundles
    else:
        plain = partial(plain_bundle, opts.bundle, texts)  # built (if not cached) while 2 servers start
        # "ours" is the fused export: the bundle itself, or (while the shipped bundle is still a
        # plain tf2onnx graph) a fused re-export of the same weights, checked to 1e-5
        # (fused_bundle imports TensorFlow even for a fused bundle: skip it then)
        served = opts.bundle if is_fused(opts.bundle) else fused_bundle(opts.bundle, texts)
    overlap = (lambda: prepare_model(opts, shared)) if "model" in opts.parts else None
    result = run_service_bench(served, plain, cfg, texts, while_starting=overlap)
    return {"source_bundle": str(opts.bundle), **result}


def run_batch(opts: BenchOptions, shared: dict) -> dict:
    from bench.batch_bench import corpus, run_batch_bench

    limit = opts.batch_texts or (2000 if opts.quick else None)
    texts = corpus()
    texts = texts[:limit] if limit else texts
    scales = (1, 2) if opts.quick else (1, 10)
    return run_batch_bench(opts.bundle, texts, scales, repeats=opts.batch_pairs)


def run_explain(opts: BenchOptions, shared: dict) -> dict:
    from bench.explain_bench import ExplainBenchConfig, run_explain_bench

    cfg = ExplainBenchConfig.quick() if opts.quick else ExplainBenchConfig()
    cfg.rounds = opts.rounds
    cfg.service_env.update(opts.service_env)
    return run_explain_bench(opts.bundle, cfg)


RUNNERS = {"model": run_model, "service": run_service, "batch": run_batch, "explain": run_explain}


def run_all(opts: BenchOptions) -> dict:
    """Run the chosen parts; returns the results dict (also written to ``opts.out``)."""
    unknown = set(opts.parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown bench part(s) {', '.join(sorted(unknown))}; choose from {PARTS}")
    if not (opts.bundle / "card.json").is_file():
        raise FileNotFoundError(f"no model bundle at {opts.bundle}")
    results: dict = {"meta": {**machine(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "quick": opts.quick, "repeats": opts.rounds, "bundle": str(opts.bundle),
                              "loadavg_before": [round(x, 2) for x in os.getloadavg()],
                              "seconds": {}}}
    shared: dict = {}  # hand-over between parts (the model level's prepared set-up)
    for part in RUN_ORDER:
        if part not in opts.parts:
            continue
        start = time.monotonic()
        log.info("bench: %s level", part)
        try:
            results[part] = RUNNERS[part](opts, shared)
        except Exception as exc:  # record it, keep going: the other parts are still worth having
            log.exception("bench part %s failed", part)
            results[part] = {"error": f"{type(exc).__name__}: {exc}"}
        results["meta"]["seconds"][part] = round(time.monotonic() - start, 1)
        log.info("bench: %s level done in %.1f s", part, results["meta"]["seconds"][part])
    results["meta"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = report.targets(results)
    if opts.out:
        report.write_results(opts.out, results)
    if opts.markdown:
        report.write_markdown(opts.markdown, results, source=opts.out)
    return results


def failed_parts(results: dict) -> list[str]:
    """Parts that recorded an error instead of figures."""
    return [p for p in PARTS if isinstance(results.get(p), dict) and "error" in results[p]]
