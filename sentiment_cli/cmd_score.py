"""`sentiment score INPUT OUTPUT`: batch-score a CSV/JSONL/Parquet file, resumably.

Prints a progress bar on a terminal (stderr) and one JSON summary line on stdout at the end.
Re-running the same command after a crash resumes from the last published part.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

FORMATS = ["auto", "csv", "jsonl", "parquet"]


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    """Options of `sentiment score`; defaults come from ScoreConfig."""
    from scoring.job import ScoreConfig

    d = ScoreConfig(Path("in"), Path("out"))
    p.add_argument("input", type=Path, help="input file (.csv, .jsonl, .parquet)")
    p.add_argument("output", type=Path, help="output file; its extension picks the format")
    p.add_argument("--model", type=Path, default=d.model, help="bundle dir (default: %(default)s)")
    p.add_argument("--text-column", default=d.text_column, help="default: %(default)s")
    p.add_argument("--id-column", default="auto",
                   help="input column copied to the output's 'id' column (default: auto, the "
                        "input's 'id' column if it has one; without one the output has a 'line' "
                        "column of 1-based line numbers instead)")
    p.add_argument("--format", dest="input_format", choices=FORMATS, default="auto",
                   help="input format (default: from the extension)")
    p.add_argument("--output-format", choices=FORMATS, default="auto",
                   help="output format (default: from OUTPUT's extension)")
    p.add_argument("--rejected", type=Path, default=None,
                   help="quarantine file (default: OUTPUT.rejected.jsonl)")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help="most rows per onnxruntime call (default: %(default)s)")
    p.add_argument("--window", type=int, default=d.window,
                   help="rows sorted by token length together (default: %(default)s)")
    p.add_argument("--part-rows", type=int, default=d.part_rows,
                   help="input rows per atomically published part (default: %(default)s)")
    p.add_argument("--threads", type=int, default=d.threads,
                   help="onnxruntime intra-op threads, local engine (default: %(default)s)")
    p.add_argument("--engine", choices=["local", "ray"], default=d.engine,
                   help="default: %(default)s")
    p.add_argument("--ray-address", default=None,
                   help="join this Ray cluster (default: $RAY_ADDRESS, else start a local Ray)")
    p.add_argument("--concurrency", dest="ray_concurrency", type=int, metavar="N",
                   default=d.ray_concurrency,
                   help="Ray actors, one onnxruntime session each (default: %(default)s)")
    p.add_argument("--ray-num-cpus", type=int, default=None,
                   help="CPUs of a locally started Ray (default: all)")
    p.add_argument("--force", action="store_true",
                   help="discard an interrupted run and replace an existing OUTPUT")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--explain", action="store_true",
                   help="add each row's per-token steps (how each token moved the running "
                        "score; see `sentiment explain`) to JSONL output; ~1.5 x tokens times "
                        "the model work per row (default: off)")


def run(name: str, args: argparse.Namespace) -> int:
    """Run or resume the job and print its one-line JSON summary."""
    from scoring.job import ScoreConfig, run_job

    fields = ScoreConfig.__dataclass_fields__
    cfg = ScoreConfig(**{k: v for k, v in vars(args).items() if k in fields})
    try:
        summary = run_job(cfg)
    except (FileNotFoundError, FileExistsError, PermissionError):
        raise
    except OSError as exc:  # disk full, I/O error...: one line; parts done so far are kept
        raise RuntimeError(f"{exc.strerror or exc} ({exc.filename or cfg.output}); "
                           "fix it and re-run the same command to resume") from None
    print(json.dumps(summary), flush=True)
    return 0
