"""The committed load-test texts really are the test split, varied, and reproducible."""

from __future__ import annotations

import json

from load_tests.make_fixture import DEFAULT_OUT, build_fixture, load_texts


def test_fixture_texts_come_from_the_test_split_only() -> None:
    from training.datasets import load
    from training.split import split

    data = json.loads(DEFAULT_OUT.read_text(encoding="utf-8"))
    texts = load_texts(DEFAULT_OUT)
    assert data["source"]["split"] == "test" and len(texts) == data["source"]["count"] >= 500
    assert len(set(texts)) == len(texts)  # no repeated string
    lengths = sorted(len(t.split()) for t in texts)
    assert lengths[0] < 8 and lengths[-1] > 30  # short and long texts alike
    splits = split(load(data["source"]["dataset"]), seed=data["source"]["split_seed"])
    assert set(texts) <= set(splits.test[0])
    assert not set(texts) & (set(splits.train[0]) | set(splits.val[0]))


def test_the_script_reproduces_the_committed_file() -> None:
    data = json.loads(DEFAULT_OUT.read_text(encoding="utf-8"))
    src = data["source"]
    again = build_fixture(src["dataset"], src["split_seed"], src["count"], src["sample_seed"])
    assert again["texts"] == data["texts"]
