"""`sentiment train|export|fetch`: build a bundle from a dataset (TensorFlow imported lazily)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def _quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter so CLI errors stay one line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GLOG_minloglevel", "3")


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    if name == "fetch":
        p.add_argument("datasets", nargs="*", default=["rotten_tomatoes", "tweets", "minilm"],
                       help="built-in datasets and pretrained vectors (minilm) to fetch "
                            "(default: all)")
        return
    _quiet_tensorflow()
    from training.pipeline import RunConfig

    run = RunConfig()
    mod, tok = run.model, run.tokenizer
    p.add_argument("--dataset", default=run.dataset,
                   help="rotten_tomatoes | tweets | csv:PATH | jsonl:PATH (default: %(default)s)")
    p.add_argument("--text-column", default=run.text_column, help="default: %(default)s")
    p.add_argument("--label-column", default=run.label_column, help="default: %(default)s")
    p.add_argument("--name", default=run.name, help="bundle name under --out (default: %(default)s)")
    p.add_argument("--out", type=Path, default=run.out_dir, help="default: %(default)s")
    p.add_argument("--force", action="store_true", help="replace an existing bundle")
    p.add_argument("--seed", type=int, default=run.seed,
                   help="model seed; the bundle is this seed's model (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=run.seeds,
                   help="train seeds SEED..SEED+N-1, report test mean ± sd in "
                        "training/results/ and the card (default: %(default)s)")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="where seed sweeps are written (default: training/results in the package)")
    p.add_argument("--split-seed", type=int, default=run.split_seed, help="default: %(default)s")
    p.add_argument("--distill", action=argparse.BooleanOptionalAction, default=run.distill,
                   help="train on the cached teacher's labels (run `sentiment teacher` first) "
                        "(default: %(default)s)")
    p.add_argument("--teacher-layers", type=int, default=run.teacher.layers,
                   help="teacher config whose cached labels to use (default: %(default)s)")
    p.add_argument("--teacher-epochs", type=int, default=run.teacher.epochs, help="default: %(default)s")
    p.add_argument("--copies", type=int, default=run.augment.copies,
                   help="augmented copies per text of the cached transfer set (default: %(default)s)")
    p.add_argument("--monitor", choices=["val_accuracy", "val_loss"], default=run.monitor,
                   help="early stopping and epoch selection (default: %(default)s)")
    p.add_argument("--pooling", choices=["meanmax", "last"], default=mod.pooling, help="default: %(default)s")
    p.add_argument("--fp16-embedding", action=argparse.BooleanOptionalAction, default=mod.fp16_embedding,
                   help="store the embedding table as fp16 in model.onnx (default: %(default)s)")
    p.add_argument("--cell", choices=["lstm", "gru"], default=mod.cell, help="default: %(default)s")
    p.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=mod.bidirectional)
    p.add_argument("--embedding-dim", type=int, default=mod.embedding_dim, help="default: %(default)s")
    p.add_argument("--units", type=int, default=mod.units, help="default: %(default)s")
    p.add_argument("--dropout", type=float, default=mod.dropout, help="default: %(default)s")
    p.add_argument("--embedding-dropout", type=float, default=mod.embedding_dropout,
                   help="default: %(default)s")
    p.add_argument("--l2", type=float, default=mod.l2, help="L2 on the Dense kernel (default: %(default)s)")
    p.add_argument("--pretrained", choices=["minilm", "none"], default=mod.pretrained or "none",
                   help="initialize the Embedding from vectors in a pinned PyPI wheel "
                        "(default: %(default)s)")
    p.add_argument("--pretrained-method", choices=["pca", "static", "contextual"],
                   default=mod.pretrained_method,
                   help="word vector = mean of input piece embeddings (static) or the word run "
                        "through the encoder (contextual) (default: %(default)s)")
    p.add_argument("--pretrained-scale", type=float, default=mod.pretrained_scale,
                   help="std of the pretrained rows per column (default: %(default)s)")
    p.add_argument("--learning-rate", type=float, default=mod.learning_rate, help="default: %(default)s")
    p.add_argument("--clipnorm", type=float, default=mod.clipnorm,
                   help="clip each gradient tensor to this L2 norm (default: %(default)s)")
    p.add_argument("--clipvalue", type=float, default=mod.clipvalue, help="default: off")
    p.add_argument("--epochs", type=int, default=run.epochs, help="max epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=run.batch_size, help="default: %(default)s")
    p.add_argument("--patience", type=int, default=run.patience, help="default: %(default)s")
    p.add_argument("--tokenizer", choices=["minilm", "word", "wordpiece"], default=tok.kind,
                   help="default: %(default)s")
    p.add_argument("--vocab-size", type=int, default=tok.vocab_size, help="default: %(default)s")
    p.add_argument("--min-frequency", type=int, default=tok.min_frequency,
                   help="drop rarer training words (default: %(default)s)")
    p.add_argument("--max-tokens", type=int, default=tok.max_tokens,
                   help="truncate longer texts (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no Keras progress output")


def _check(args: argparse.Namespace) -> None:
    for key in ("embedding_dim", "units", "epochs", "batch_size", "vocab_size", "max_tokens", "seeds"):
        if getattr(args, key) < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be >= 1")
    if not 0 <= args.dropout < 1 or not 0 <= args.embedding_dropout < 1:
        raise ValueError("dropout rates must be in [0, 1)")
    if args.pretrained_scale <= 0 or args.l2 < 0 or args.min_frequency < 1:
        raise ValueError("--pretrained-scale must be > 0, --l2 >= 0, --min-frequency >= 1")


def config_from_args(args: argparse.Namespace):  # noqa: ANN201
    import dataclasses

    from training.augment import AugmentConfig
    from training.model import ModelConfig
    from training.pipeline import RunConfig
    from training.tokenizer import TokenizerConfig

    _check(args)
    model = ModelConfig(cell=args.cell, embedding_dim=args.embedding_dim, units=args.units,
                        bidirectional=args.bidirectional, dropout=args.dropout,
                        embedding_dropout=args.embedding_dropout, learning_rate=args.learning_rate,
                        clipnorm=args.clipnorm or None, clipvalue=args.clipvalue, l2=args.l2,
                        pretrained=None if args.pretrained == "none" else args.pretrained,
                        pretrained_method=args.pretrained_method,
                        pretrained_scale=args.pretrained_scale, pooling=args.pooling,
                        fp16_embedding=args.fp16_embedding)
    tok = TokenizerConfig(kind=args.tokenizer, vocab_size=args.vocab_size,
                          min_frequency=args.min_frequency, max_tokens=args.max_tokens)
    base = RunConfig()
    teacher = dataclasses.replace(base.teacher, layers=args.teacher_layers, epochs=args.teacher_epochs)
    return RunConfig(dataset=args.dataset, name=args.name, out_dir=args.out,
                     text_column=args.text_column, label_column=args.label_column, seed=args.seed,
                     seeds=args.seeds, results_dir=args.results_dir, split_seed=args.split_seed,
                     distill=args.distill,
                     teacher=teacher, augment=AugmentConfig(copies=args.copies), monitor=args.monitor,
                     tokenizer=tok, model=model, epochs=args.epochs, batch_size=args.batch_size,
                     patience=args.patience, force=args.force, verbose=0 if args.quiet else 2)


def run(name: str, args: argparse.Namespace) -> int:
    if name == "fetch":
        from training import datasets, embeddings

        for ds in args.datasets:
            if ds in embeddings.SOURCES:
                print(f"{ds}: {embeddings.fetch(ds)}")
                continue
            if ds not in datasets.SOURCES:
                known = ", ".join((*datasets.BUILTIN, *embeddings.SOURCES))
                raise ValueError(f"unknown dataset {ds!r}: built-ins are {known}")
            print(f"{ds}: {datasets.fetch(ds)}")
        return 0
    from training.pipeline import run as train_run

    path = train_run(config_from_args(args))
    card = json.loads((path / "card.json").read_text())
    sweep = card["metrics"].get("seed_sweep") or {}
    print(json.dumps({"bundle": str(path), "version": card["version"],
                      "test": card["metrics"]["test"]["accuracy"],
                      "test_roc_auc": card["metrics"]["test"].get("roc_auc"),
                      "seeds": {k: sweep[k] for k in ("n", "accuracy", "roc_auc") if k in sweep},
                      "baselines": {k: v["accuracy"]
                                    for k, v in card["metrics"]["baselines_test"].items()},
                      "parity": card["parity"]["max_abs_diff"]}))
    return 0
