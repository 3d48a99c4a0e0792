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
from training import datasets
from training.model import ModelConfig
from training.split import Splits, split
from training.tokenizer import TokenizerConfig, train_tokenizer

log = logging.getLogger(__name__)
LIBRARIES = ("tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime", "tokenizers", "numpy",
             "scikit-learn")


@dataclass
class RunConfig:
    """Everything a training run needs; defaults reproduce the shipped bundle."""

    dataset: str = "rotten_tomatoes"
    name: str = "default"
    out_dir: Path = Path("models")
    text_column: str = "text"
    label_column: str = "label"
    seed: int = 13
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 12
    batch_size: int = 64
    patience: int = 2
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
    splits = split(ds, seed=cfg.seed)
    labels = sorted(set(ds.labels))
    log.info("dataset %s: %d rows, splits %s, labels %s", ds.name, len(ds.texts), splits.sizes(),
             labels)
    return ds, splits, labels


def run(cfg: RunConfig) -> Path:
    """Train, evaluate, export and write ``models/<name>/``; returns the bundle path."""
    dest = cfg.out_dir / cfg.name
    ds, splits, labels = prepare(cfg)
    if dest.exists() and not cfg.force:
        raise FileExistsError(f"{dest} exists; pass --force to replace it")
    from core.bundle_writer import write_bundle  # heavy imports only once data is valid
    from training.export import check_parity, to_onnx
    from training.trainer import train_and_evaluate

    tok = train_tokenizer(splits.train[0], cfg.tokenizer)
    result = train_and_evaluate(cfg, splits, labels, tok)

    def fill(tmp: Path) -> dict:
        tok.save(str(tmp / TOKENIZER))
        to_onnx(result.model, tmp / MODEL)
        parity = check_parity(result.model, tmp / MODEL, result.test_seqs)
        result.plot(tmp / "training.png")
        return card(cfg, ds, splits, labels, result, parity)

    path = write_bundle(dest, fill, force=cfg.force)
    log.info("bundle written to %s", path)
    return path


def card(cfg: RunConfig, ds: datasets.Dataset, splits: Splits, labels: list[str], result,
         parity: dict) -> dict:
    """The card's content, minus the fields the bundle writer adds (files, version, format)."""
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
        "split": {"seed": cfg.seed, "fractions": {"train": 0.8, "validation": 0.1, "test": 0.1},
                  "sizes": splits.sizes(), "stratified": True, "deduplicated": True},
        "architecture": f"Embedding(mask_zero) -> {'Bi' if cfg.model.bidirectional else ''}"
                        f"{cfg.model.cell.upper()}({cfg.model.units}) -> Dropout -> Dense",
        "hyperparameters": {"tokenizer": vars(cfg.tokenizer) | {}, "model": cfg.model.to_dict(),
                            "training": {"epochs_max": cfg.epochs, "batch_size": cfg.batch_size,
                                         "patience": cfg.patience, "seed": cfg.seed,
                                         "epochs_run": len(result.history.epochs["loss"]),
                                         "best_epoch": result.history.best_epoch,
                                         "train_seconds": round(result.history.seconds, 1)}},
        "metrics": {"test": result.test_metrics, "baseline_test": result.baseline_metrics,
                    "validation_accuracy_best": float(np.max(result.history.epochs["val_accuracy"]))},
        "embedding_init": result.embedding_init,
        "parity": parity,
        "gradient_clipping": result.history.clipping,
        "libraries": library_versions(),
        "plots": ["training.png"],
    }
