"""`sentiment loadtest`: Locust load test of the HTTP service with SLO gates and a report."""

from __future__ import annotations

import argparse
from pathlib import Path

MODES_HELP = ("smoke: short closed-loop run with health checks; capacity: closed-loop users "
              "stepped up to the knee; latency: paced users at --rate; full: capacity, then "
              "latency at --fraction of it")


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.startswith("SENTIMENT_"):
        raise argparse.ArgumentTypeError(f"expected SENTIMENT_NAME=VALUE, got {text!r}")
    return key, value


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    """Options of `sentiment loadtest`; the defaults run the full test on the shipped model."""
    p.add_argument("--mode", choices=("smoke", "capacity", "latency", "full"), default="full",
                   help=MODES_HELP + " (default: %(default)s)")
    p.add_argument("--host", default=None, help="target an already running server on loopback, "
                   "e.g. http://127.0.0.1:3000 (default: start one on a free 127.0.0.1 port)")
    p.add_argument("--model", type=Path, default=None,
                   help="bundle the started server serves (default: the service's default)")
    p.add_argument("--env", dest="service_env", type=_env_pair, action="append", default=[],
                   metavar="SENTIMENT_X=V", help="setting for the started server (repeatable)")
    p.add_argument("--slo", dest="slo_file", type=Path, default=None,
                   help="SLO file (default: load_tests/slo.toml)")
    p.add_argument("--out", type=Path, default=None,
                   help="results folder (default: load_tests/results/<UTC time>-<mode>)")
    g = p.add_argument_group("load shape")
    g.add_argument("--users", type=int, default=None,
                   help="users for smoke (default 4) or latency (default rate / --per-user-rate)")
    g.add_argument("--start-users", type=int, default=1, help="capacity: first step (default 1)")
    g.add_argument("--max-users", type=int, default=64, help="capacity: last step (default 64)")
    g.add_argument("--step-seconds", dest="step_s", type=int, default=12,
                   help="capacity: seconds per step (default 12)")
    g.add_argument("--duration", dest="duration_s", type=int, default=None,
                   help="run seconds: smoke (default 10) or latency (default 30)")
    g.add_argument("--rate", type=float, default=None, help="latency: target requests/s")
    g.add_argument("--fraction", type=float, default=0.5,
                   help="full: latency target as a fraction of capacity (default 0.5)")
    g.add_argument("--per-user-rate", type=float, default=5.0,
                   help="latency: requests/s per paced user (default 5)")
    g.add_argument("--max-requests", type=int, default=200_000,
                   help="hard bound on requests per Locust run (default 200000)")
    g.add_argument("--single-weight", type=int, default=3, help="weight of 1-text requests")
    g.add_argument("--batch-weight", type=int, default=1, help="weight of multi-text requests")
    g.add_argument("--batch-size", type=int, default=8, help="multi-text requests send 2..N")
    g.add_argument("--texts-file", type=Path, default=None,
                   help="fixture of texts (default load_tests/data/test_texts.json)")


def run(name: str, args: argparse.Namespace) -> int:
    """Run the load test; 0 when every SLO held, 1 when one was violated."""
    from load_tests.runner import Options
    from load_tests.runner import run as run_loadtest
    from load_tests.slo import DEFAULT_SLO

    opts = Options(mode=args.mode, host=args.host, model=args.model,
                   service_env=dict(args.service_env), slo_file=args.slo_file or DEFAULT_SLO,
                   out=args.out, users=args.users, start_users=args.start_users,
                   max_users=args.max_users, step_s=args.step_s,
                   duration_s=args.duration_s or (10 if args.mode == "smoke" else 30),
                   rate=args.rate, fraction=args.fraction, per_user_rate=args.per_user_rate,
                   max_requests=args.max_requests, single_weight=args.single_weight,
                   batch_weight=args.batch_weight, batch_size=args.batch_size,
                   texts_file=args.texts_file)
    return run_loadtest(opts)
