"""One run: dataset -> split -> tokenizer -> fit -> evaluate -> tf2onnx export -> bundle."""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import logging
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.bundle import MODEL, TOKENIZER
from core.paths import PROJECT_ROOT
from training import datasets
from training.augment import AugmentConfig
from training.model import ModelConfig
from training.split import Splits, split
from training.teacher import TeacherConfig
from training.tokenizer import TokenizerConfig, train_tokenizer

log = logging.getLogger(__name__)
LIBRARIES = ("tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime", "tokenizers", "numpy",
             "scikit-learn")


PACKAGE_ROOT = PROJECT_ROOT


@dataclass
class RunConfig:
    """Everything a training run needs; defaults reproduce the shipped bundle."""

    dataset: str = "rotten_tomatoes"
    name: str = "default"
    out_dir: Path = PACKAGE_ROOT / "models"
    text_column: str = "text"
    label_column: str = "label"
    seed: int = 13  # model seed (initialization, dropout, batch order)
    split_seed: int = 13  # fixed split, shared by every model seed and the teacher
    seeds: int = 1  # > 1: train seeds seed..seed+seeds-1 and report mean ± sd
    tokenizer: TokenizerConfig = field(
        default_factory=lambda: TokenizerConfig(kind="minilm", vocab_size=30522))
    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 4
    batch_size: int = 128
    patience: int = 2
    monitor: str = "val_accuracy"
    distill: bool = True  # train on the cached teacher's probabilities (training/teacher_cache.py)
    distill_temperature: float = 1.0
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    calibrate: bool = True
    results_dir: Path | None = None
    force: bool = False
    verbose: int = 2


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = md.version(lib)
        except md.PackageNotFoundError:
            continue
    return out


def prepare(cfg: RunConfig) -> tuple[datasets.Dataset, Splits, list[str]]:
    """Load, deduplicate and split the data; labels sorted for a stable output order."""
    ds = datasets.load(cfg.dataset, cfg.text_column, cfg.label_column)
    splits = split(ds, seed=cfg.split_seed)
    labels = sorted(set(ds.labels))
    log.info("dataset %s: %d rows, splits %s, labels %s", ds.name, len(ds.texts), splits.sizes(),
             labels)
    return ds, splits, labels


def baselines(splits: Splits, labels: list[str], seed: int) -> dict:
    """TF-IDF + LR and NBSVM-style LR on the same split (binary tasks get both)."""
    from training.evaluate import baseline, nbsvm

    index = {lab: i for i, lab in enumerate(labels)}
    y = {k: np.asarray([index[x] for x in s[1]]) for k, s in
         (("train", splits.train), ("val", splits.val), ("test", splits.test))}
    out = {"tfidf_lr": baseline(splits.train[0], y["train"], splits.test[0], y["test"], seed)}
    if len(labels) == 2:
        out["nbsvm"] = nbsvm(splits.train[0], y["train"], splits.val[0], y["val"], splits.test[0],
                             y["test"], seed)
    return out


def train_seeds(cfg: RunConfig, splits: Splits, labels: list[str], tok, base: dict):  # noqa: ANN001, ANN201
    """Train ``cfg.seeds`` model seeds; returns (the result of ``cfg.seed``, the sweep or None)."""
    from training.experiment import seed_row, write_sweep
    from training.trainer import train_and_evaluate

    keep, rows = None, []
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        result = train_and_evaluate(cfg, splits, labels, tok, seed)
        rows.append(seed_row(seed, result))
        if seed == cfg.seed:
            keep = result
    sweep = write_sweep(cfg, rows, base)
    return keep, sweep


def run(cfg: RunConfig) -> Path:
    """Train (one or more seeds), evaluate, export and write ``<out>/<name>/``; returns its path."""
    dest = cfg.out_dir / cfg.name
    ds, splits, labels = prepare(cfg)
    if dest.exists() and not cfg.force:
        raise FileExistsError(f"{dest} exists; pass --force to replace it")
    from core.bundle_writer import write_bundle  # heavy imports only once data is valid
    from training.reports import finish

    tok = train_tokenizer(splits.train[0], cfg.tokenizer)
    base = baselines(splits, labels, cfg.seed)
    result, sweep = train_seeds(cfg, splits, labels, tok, base)

    def fill(tmp: Path) -> dict:
        tok.save(str(tmp / TOKENIZER))
        reports = finish(result, tok, tmp, tmp / MODEL, labels, splits, cfg)
        return card(cfg, ds, splits, labels, result, base, sweep, reports)

    path = write_bundle(dest, fill, force=cfg.force)
    log.info("bundle written to %s", path)
    return path


def card(cfg: RunConfig, ds: datasets.Dataset, splits: Splits, labels: list[str], result,  # noqa: ANN001
         base: dict, sweep: dict | None, reports: dict) -> dict:
    """The card's content, minus the fields the bundle writer adds (files, version, format)."""
    m = cfg.model
    arch = (f"Embedding({'fp16 ' if m.fp16_embedding else ''}{m.embedding_dim}, mask_zero) -> "
            f"{'Bi' if m.bidirectional else ''}{m.cell.upper()}({m.units})"
            f"{' -> masked mean+max pooling' if m.pooling == 'meanmax' else ''} -> Dropout -> Dense")
    training = {"epochs_max": cfg.epochs, "batch_size": cfg.batch_size, "patience": cfg.patience,
                "monitor": cfg.monitor, "seed": cfg.seed, "split_seed": cfg.split_seed,
                "distill": cfg.distill, "distill_temperature": cfg.distill_temperature,
                "train_rows": result.train_rows, "epochs_run": len(result.history.epochs["loss"]),
                "best_epoch": result.history.best_epoch,
                "train_seconds": round(result.history.seconds, 1)}
    return {
        "name": cfg.name,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "task": "text-classification",
        "labels": labels,
        "output": "probabilities [batch, len(labels)] in label order",
        "input": "input_ids [batch, time] int32, right-padded with 0 (pad id); time is dynamic",
        "max_tokens": cfg.tokenizer.max_tokens,
        "pad_id": 0,
        "dataset": {"name": ds.name, "spec": cfg.dataset, "rows": len(ds.texts), **ds.source},
        "split": {"seed": cfg.split_seed, "fractions": {"train": 0.8, "validation": 0.1, "test": 0.1},
                  "sizes": splits.sizes(), "stratified": True, "deduplicated": True},
        "architecture": arch,
        "hyperparameters": {"tokenizer": vars(cfg.tokenizer) | {}, "model": m.to_dict(),
                            "training": training, "teacher": cfg.teacher.to_dict(),
                            "augment": cfg.augment.to_dict()},
        "metrics": {"test": result.test_metrics, "baseline_test": base["tfidf_lr"],
                    "baselines_test": base, "teacher": result.teacher.get("metrics"),
                    "seed_sweep": sweep and {"file": _rel(sweep["file"]), **sweep["summary"],
                                             "runs": sweep["runs"]},
                    "validation_accuracy_best": float(np.max(result.history.epochs["val_accuracy"]))},
        "teacher": {k: v for k, v in result.teacher.items() if k != "metrics"},
        "calibration": result.calibration | {"plot": "reliability.png"},
        "embedding_init": result.embedding_init,
        **reports,
        "gradient_clipping": result.history.clipping,
        "libraries": library_versions(),
        "plots": ["training.png", "reliability.png"],
    }


def _rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(PACKAGE_ROOT))
    except ValueError:
        return path
