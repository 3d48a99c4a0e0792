"""Seed sweeps: train one recipe under N model seeds on the fixed split, report mean ± sd.

The results file ``training/results/sweep-<recipe key>.json`` holds every seed's test figures
(runs of the same recipe merge into it, one row per seed);
the key is the sha256 of the recipe (everything but the model seed, bundle name and output), so
a later single-seed run of the same recipe finds its spread and records it in the card.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
RESULTS = Path(__file__).resolve().parent / "results"
NOT_RECIPE = ("name", "out_dir", "seed", "seeds", "force", "verbose", "results_dir")


def recipe(cfg) -> dict:  # noqa: ANN001
    """The run config as plain JSON, minus what does not change the model."""
    d = dataclasses.asdict(cfg)
    return json.loads(json.dumps({k: v for k, v in d.items() if k not in NOT_RECIPE}, default=str))


def recipe_key(cfg) -> str:  # noqa: ANN001
    return hashlib.sha256(json.dumps(recipe(cfg), sort_keys=True).encode()).hexdigest()[:12]


def results_path(cfg) -> Path:  # noqa: ANN001
    return Path(cfg.results_dir or RESULTS) / f"sweep-{recipe_key(cfg)}.json"


def summarize(runs: list[dict]) -> dict:
    """mean ± sd (ddof 1) of test accuracy, ROC-AUC and ECE over seeds."""
    out = {"seeds": [r["seed"] for r in runs], "n": len(runs)}
    for key in ("accuracy", "roc_auc", "ece_after"):
        vals = np.asarray([r[key] for r in runs if r.get(key) is not None], np.float64)
        if vals.size:
            out[key] = {"mean": round(float(vals.mean()), 4),
                        "sd": round(float(vals.std(ddof=1)), 4) if vals.size > 1 else 0.0,
                        "min": round(float(vals.min()), 4), "max": round(float(vals.max()), 4)}
    return out


def seed_row(seed: int, result) -> dict:  # noqa: ANN001
    m = result.test_metrics
    return {"seed": seed, "accuracy": m["accuracy"], "roc_auc": m.get("roc_auc"),
            "ece_before": result.calibration.get("test_ece_before"),
            "ece_after": result.calibration.get("test_ece_after"),
            "best_epoch": result.history.best_epoch, "epochs_run": len(result.history.epochs["loss"]),
            "train_seconds": round(result.history.seconds, 1)}


def write_sweep(cfg, runs: list[dict], baselines: dict) -> dict:  # noqa: ANN001
    """Merge ``runs`` into the recipe's results file (a seed's row is replaced) and summarize."""
    old = read_sweep(cfg)
    if old:
        mine = {r["seed"] for r in runs}
        runs = sorted([r for r in old["runs"] if r["seed"] not in mine] + runs, key=lambda r: r["seed"])
    sweep = {"recipe_key": recipe_key(cfg), "summary": summarize(runs), "runs": runs,
             "baselines": {k: {"accuracy": v["accuracy"], "roc_auc": v.get("roc_auc")}
                           for k, v in baselines.items()}, "recipe": recipe(cfg)}
    path = results_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sweep, indent=2) + "\n")
    log.info("seed sweep %s: %s", path, sweep["summary"])
    return sweep | {"file": str(path)}


def read_sweep(cfg) -> dict | None:  # noqa: ANN001
    path = results_path(cfg)
    if not path.is_file():
        return None
    return json.loads(path.read_text()) | {"file": str(path)}
