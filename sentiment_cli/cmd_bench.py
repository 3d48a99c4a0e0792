"""`sentiment bench`: the side-by-side performance benchmark in one run (also `make bench`).

Model level (Keras vs plain tf2onnx vs fused export), service level (our BentoML service vs a
bare Starlette/uvicorn server vs BentoML without batching on the plain export, one load
generator) and batch job (local engine vs raw onnxruntime). Writes bench/results.json and, on a
full run of all parts, bench/RESULTS.md generated from it; prints the tables and ratios.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from core.paths import PROJECT_ROOT as REPO_ROOT
from core.paths import default_model_dir


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.startswith("SENTIMENT_"):
        raise argparse.ArgumentTypeError(f"expected SENTIMENT_NAME=value, got {text!r}")
    return key, value


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="short runs, 1 repeat, fewer batch sizes (under 2 minutes)")
    p.add_argument("--model", type=Path, default=default_model_dir(),
                   help="bundle to benchmark (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=None,
                   help="runs per figure, medians reported (default: 3, --quick: 1)")
    p.add_argument("--only", choices=["model", "service", "batch", "explain"], action="append",
                   help="run only this part (repeatable; default: all three)")
    p.add_argument("--out", type=Path, default=None,
                   help="results file (default: bench/results.json, --quick: bench/results-quick.json)")
    p.add_argument("--service-env", type=_env_pair, action="append", default=[],
                   metavar="SENTIMENT_X=V", help="extra setting for our BentoML service (repeatable)")


def run(name: str, args: argparse.Namespace) -> int:
    from bench import report
    from bench.run import PARTS, BenchOptions, failed_parts, run_all
    from bench.sweep import interrupted

    signal.signal(signal.SIGTERM, interrupted)  # stop the servers on the way out

    if args.repeats is not None and args.repeats < 1:
        raise ValueError("--repeats must be at least 1")
    parts = tuple(args.only or PARTS)
    out = args.out or REPO_ROOT / "bench" / ("results-quick.json" if args.quick else "results.json")
    # Markdown next to the JSON, only for a full run of all parts (what the docs link to).
    markdown = out.with_name("RESULTS.md") if not args.quick and parts == PARTS else None
    opts = BenchOptions(bundle=args.model, quick=args.quick, repeats=args.repeats, parts=parts,
                        out=out, markdown=markdown, service_env=dict(args.service_env))
    results = run_all(opts)
    for block, text in report.blocks(results).items():
        print(f"\n## {block}\n\n{text}")
    print(f"\nresults: {out}" + (f"; {markdown}" if markdown else ""))
    failed = failed_parts(results)
    if failed:
        raise RuntimeError("bench part(s) failed: " + "; ".join(
            f"{p}: {results[p]['error']}" for p in failed))
    return 0
