"""`sentiment teacher`: fine-tune MiniLM on the training split, label the transfer set, cache it."""

from __future__ import annotations

import argparse
import json

from sentiment_cli.cmd_train import _quiet_tensorflow


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    _quiet_tensorflow()
    from training.augment import AugmentConfig
    from training.teacher import TeacherConfig

    t, a = TeacherConfig(), AugmentConfig()
    p.add_argument("--dataset", default="rotten_tomatoes", help="default: %(default)s")
    p.add_argument("--seed", type=int, default=13, help="split seed (default: %(default)s)")
    p.add_argument("--layers", type=int, default=t.layers,
                   help="encoder layers kept (default: all %(default)s)")
    p.add_argument("--epochs", type=int, default=t.epochs, help="default: %(default)s")
    p.add_argument("--copies", type=int, default=a.copies,
                   help="augmented copies of each training text (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="recompute even if cached")


def configs(args: argparse.Namespace):  # noqa: ANN201
    from training.augment import AugmentConfig
    from training.teacher import TeacherConfig

    if args.layers < 1 or args.epochs < 1 or args.copies < 0:
        raise ValueError("--layers and --epochs must be >= 1, --copies >= 0")
    return TeacherConfig(layers=args.layers, epochs=args.epochs), AugmentConfig(copies=args.copies)


def run(name: str, args: argparse.Namespace) -> int:
    from training.teacher_cache import run_teacher

    tcfg, acfg = configs(args)
    meta = run_teacher(args.dataset, args.seed, tcfg, acfg, force=args.force)
    prov = json.loads(meta.read_text())
    print(json.dumps({"cache": str(meta), "test": prov["metrics"]["test"]["accuracy"],
                      "test_roc_auc": prov["metrics"]["test"]["roc_auc"],
                      "transfer_texts": prov["transfer_texts"]}))
    return 0
