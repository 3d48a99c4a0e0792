"""One scoring job: check the inputs, open (or resume) the work directory, run an engine,
assemble the output and return a summary.

Bad files (missing, unreadable, unknown column, unsupported format) raise one-line
``ValueError``/``FileNotFoundError``/``RuntimeError`` before anything is written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.bundle import Bundle, load_bundle, sha256_file
from core.paths import default_model_dir
from scoring.explaining import check_explain
from scoring.parts import WorkDir
from scoring.progress import Progress
from scoring.readers import detect_format, open_reader
from scoring.writers import assemble_rejected, output_format

log = logging.getLogger(__name__)
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class ScoreOptions:
    """Options that change the output bytes; a resume must use the same ones."""

    text_column: str = "text"
    id_column: str | None = None
    input_format: str = "csv"
    output_format: str = "csv"
    batch_size: int = 64
    window: int = 2048
    part_rows: int = 8192
    explain: bool = False  # per-token steps in JSONL rows (scoring.explaining)


@dataclass
class ScoreConfig:
    """Everything ``sentiment score`` needs; defaults work on the shipped model."""

    input: Path
    output: Path
    model: Path = field(default_factory=default_model_dir)
    text_column: str = "text"
    id_column: str | None = "auto"  # "auto": the input's "id" column if it has one
    input_format: str = "auto"
    output_format: str = "auto"
    rejected: Path | None = None
    batch_size: int = 64
    window: int = 2048
    part_rows: int = 8192
    threads: int = 1
    engine: str = "local"
    ray_address: str | None = None
    ray_concurrency: int = 2
    ray_num_cpus: int | None = None
    ray_object_store_mb: int | None = None
    force: bool = False
    quiet: bool = False
    explain: bool = False


@dataclass
class Context:
    """What an engine needs to score the remaining parts of a job."""

    config: ScoreConfig
    options: ScoreOptions
    bundle: Bundle
    reader: Any
    workdir: WorkDir
    out_format: Any
    part_suffix: str
    progress: Progress
    skip_rows: int
    predictor: Any = None


def _check(cfg: ScoreConfig) -> None:
    """Reject impossible settings before touching any file."""
    for name in ("batch_size", "window", "part_rows", "threads", "ray_concurrency"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    if cfg.engine not in ENGINES:
        raise ValueError(f"unknown engine {cfg.engine!r}; use one of {ENGINES}")
    if not cfg.output.parent.is_dir():
        raise FileNotFoundError(f"output directory {cfg.output.parent} does not exist")
    if cfg.output.is_dir():
        raise ValueError(f"OUTPUT {cfg.output} is a directory; give a file name")
    if cfg.input.exists() and cfg.output.exists() and cfg.input.samefile(cfg.output):
        raise ValueError("OUTPUT must differ from INPUT")


def job_identity(cfg: ScoreConfig, opts: ScoreOptions, bundle: Bundle) -> dict:
    """What a resumed run must share with the interrupted one (JSON-comparable)."""
    files = bundle.card["files"]
    return {"input": {"sha256": sha256_file(cfg.input), "bytes": cfg.input.stat().st_size},
            "model": {"name": bundle.name, "version": bundle.version,
                      "model_sha256": files["model.onnx"]["sha256"],
                      "tokenizer_sha256": files["tokenizer.json"]["sha256"]},
            "options": asdict(opts)}


def prepare(cfg: ScoreConfig) -> Context:
    """Validate everything, open the reader and the (possibly resumed) work directory."""
    _check(cfg)
    in_fmt = detect_format(cfg.input, cfg.input_format, "input")
    out_fmt = detect_format(cfg.output, cfg.output_format, "output")
    if cfg.explain:
        check_explain(out_fmt, cfg.engine)
    reader = open_reader(cfg.input, in_fmt, cfg.text_column, cfg.id_column)
    bundle = load_bundle(cfg.model)
    opts = ScoreOptions(cfg.text_column, reader.id_col, in_fmt, out_fmt, cfg.batch_size,
                        cfg.window, cfg.part_rows, cfg.explain)
    rejected = cfg.rejected or cfg.output.with_name(cfg.output.name + ".rejected.jsonl")
    workdir = WorkDir(cfg.output, rejected, job_identity(cfg, opts, bundle))
    workdir.open(cfg.force)
    done = workdir.totals.rows
    progress = Progress(Progress.wanted(cfg.quiet) and not workdir.published, reader.total_bytes,
                        reader.total_rows, done)
    fmt = output_format(out_fmt, bundle.labels, bundle.version, numeric_ids=not reader.id_col)
    return Context(cfg, opts, bundle, reader, workdir, fmt, out_fmt, progress, done)


def _engine(ctx: Context) -> None:
    """Run the chosen engine; the driver-side Predictor also formats results for Ray."""
    from core.runtime import Predictor, RuntimeOptions

    def load() -> Predictor:
        return Predictor(ctx.bundle, RuntimeOptions(intra_op_threads=ctx.config.threads))

    if ctx.config.engine == "ray":
        from scoring.ray_engine import run_ray

        ctx.predictor = load()
        run_ray(ctx)
    else:
        from scoring.engine import run_local

        run_local(ctx, load)  # loads the Predictor while its reader starts on the input


def run_job(cfg: ScoreConfig) -> dict:
    """Run (or resume) a scoring job; returns the one-line summary as a dict."""
    t0 = time.perf_counter()
    ctx = prepare(cfg)
    resumed = ctx.skip_rows
    try:
        if not ctx.workdir.published:
            _engine(ctx)
    finally:
        ctx.progress.close()
    ctx.workdir.finish(ctx.out_format.assemble, assemble_rejected)
    seconds = time.perf_counter() - t0
    totals = ctx.workdir.totals
    this_run = totals.rows - resumed
    return {"input": str(cfg.input), "output": str(cfg.output),
            "rejected": str(ctx.workdir.rejected), "engine": cfg.engine,
            "model": ctx.bundle.name, "model_version": ctx.bundle.version,
            "rows_in": totals.rows, "scored": totals.scored, "quarantined": totals.quarantined,
            "resumed_rows": resumed, "seconds": round(seconds, 3),
            "rows_per_s": round(this_run / seconds, 1) if seconds > 0 else None}
