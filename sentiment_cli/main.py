"""`sentiment` console command: one entry point, one subcommand per job.

Subcommand modules are imported lazily so `sentiment serve --help` never loads TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

# name -> (module, the package it needs, help); a command whose package is not installed (the
# serving image has no training, benchmark or load-test code) is not offered
COMMANDS = {
    "fetch": ("sentiment_cli.cmd_train", "training", "download and verify the built-in datasets"),
    "train": ("sentiment_cli.cmd_train", "training",
              "train, evaluate, export (tf2onnx) and write a bundle"),
    "teacher": ("sentiment_cli.cmd_teacher", "training",
                "fine-tune the MiniLM teacher once and cache its labels"),
    "export": ("sentiment_cli.cmd_train", "training",
               "alias of train: the export is part of every run"),
    "evaluate": ("sentiment_cli.cmd_predict", "training",
                 "recompute a bundle's test metrics from ONNX"),
    "predict": ("sentiment_cli.cmd_predict", "core", "score texts given on the command line or stdin"),
    "verify": ("sentiment_cli.cmd_predict", "core", "verify a bundle's sha256s and print its card"),
    "explain": ("sentiment_cli.cmd_explain", "core",
                "show why: each token's effect on the running score (colored, sparkline, --json)"),
    "serve": ("sentiment_cli.cmd_serve", "service", "serve a bundle over HTTP with BentoML"),
    "score": ("sentiment_cli.cmd_score", "scoring", "batch-score a CSV/JSONL/Parquet file"),
    "loadtest": ("sentiment_cli.cmd_loadtest", "load_tests",
                 "run the Locust load test with SLO gates"),
    "bench": ("sentiment_cli.cmd_bench", "bench", "run the side-by-side performance benchmark"),
}

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileExistsError, FileNotFoundError,
                                                    PermissionError, RuntimeError)


class CLIError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _chosen(argv: list[str]) -> str | None:
    """The subcommand named on the command line, if any (first non-option argument)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """Parser with every subcommand listed; only the chosen one's module is imported."""
    chosen = _chosen(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="sentiment", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, package, help_text) in COMMANDS.items():
        if importlib.util.find_spec(package) is None:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            mod = importlib.import_module(module)
            mod.add_arguments(name, p)
            p.set_defaults(_module=mod)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args._module.run(args.command, args) or 0)
    except KeyboardInterrupt:
        print("sentiment: interrupted", file=sys.stderr)
        return 130
    except (CLIError, *EXPECTED_ERRORS) as exc:
        print(f"sentiment {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
