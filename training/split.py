"""Deduplicate and split a dataset: stratified, seeded, and no text in two splits."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.model_selection import train_test_split

from training.datasets import Dataset
from training.errors import DataError


@dataclass
class Splits:
    """Train/validation/test texts and labels (strings)."""

    train: tuple[list[str], list[str]]
    val: tuple[list[str], list[str]]
    test: tuple[list[str], list[str]]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train[0]), "validation": len(self.val[0]),
                "test": len(self.test[0])}


def dedupe(texts: list[str], labels: list[str]) -> tuple[list[str], list[str], int]:
    """Drop exact duplicate texts (after stripping); a text seen with two labels is dropped."""
    seen: dict[str, str | None] = {}
    for text, label in zip(texts, labels, strict=True):
        key = text.strip()
        if key in seen and seen[key] != label:
            seen[key] = None
        else:
            seen.setdefault(key, label)
    kept = [(t, lab) for t, lab in seen.items() if lab is not None]
    return [t for t, _ in kept], [lab for _, lab in kept], len(texts) - len(kept)


def split(ds: Dataset, seed: int = 13, val: float = 0.1, test: float = 0.1) -> Splits:
    """Stratified split after deduplication; deterministic for a given seed and dataset."""
    texts, labels, _ = dedupe(ds.texts, ds.labels)
    counts = {lab: labels.count(lab) for lab in set(labels)}
    if len(counts) < 2:
        raise DataError("need at least 2 classes after deduplication")
    if min(counts.values()) < 5:
        raise DataError(f"every class needs at least 5 distinct texts; got {counts}")
    rest_t, test_t, rest_l, test_l = train_test_split(
        texts, labels, test_size=test, stratify=labels, random_state=seed)
    train_t, val_t, train_l, val_l = train_test_split(
        rest_t, rest_l, test_size=val / (1 - test), stratify=rest_l, random_state=seed)
    return Splits((train_t, train_l), (val_t, val_l), (test_t, test_l))

