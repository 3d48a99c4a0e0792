"""Splitting: deterministic, disjoint, stratified, deduplicated."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import synthetic_rows
from training.datasets import Dataset
from training.errors import DataError
from training.split import dedupe, split


def _ds(n: int = 500) -> Dataset:
    rows = synthetic_rows(n)
    rows += rows[:50]  # exact duplicates
    return Dataset("t", [t for t, _ in rows], [lab for _, lab in rows])


def test_split_is_deterministic_and_disjoint() -> None:
    a, b = split(_ds(), seed=7), split(_ds(), seed=7)
    assert (a.train, a.val, a.test) == (b.train, b.val, b.test)
    sets = [set(s[0]) for s in (a.train, a.val, a.test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert sum(a.sizes().values()) == 500  # the 50 duplicates are gone
    assert split(_ds(), seed=8).test != a.test


def test_split_is_stratified() -> None:
    s = split(_ds(1000), seed=1)
    for texts_labels in (s.train, s.val, s.test):
        counts = Counter(texts_labels[1])
        assert abs(counts["positive"] - counts["negative"]) <= 1


def test_dedupe_drops_conflicting_labels() -> None:
    texts, labels, dropped = dedupe(["a", "a ", "b", "c", "c"], ["x", "x", "y", "x", "y"])
    assert (texts, labels, dropped) == (["a", "b"], ["x", "y"], 3)


def test_too_few_texts_per_class() -> None:
    with pytest.raises(DataError, match="at least 5"):
        split(Dataset("t", ["a", "b", "c", "d"], ["x", "x", "y", "y"]))
