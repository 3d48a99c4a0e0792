"""CheckList-style behavioural tests of the shipped bundle (onnxruntime + tokenizers, no TF):
per-capability pass rates must not fall below those recorded in its card."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.bundle import load_bundle
from service.runtime import Predictor
from training import behaviour


def test_cases_are_deterministic_and_labelled() -> None:
    neg = behaviour.negation_cases()
    assert neg == behaviour.negation_cases() and {y for _, y in neg} == {0, 1}
    assert ("the movie is not bad .", 1) in neg and ("the movie is not good .", 0) in neg
    assert all(t.count(" ") >= 2 for t, _ in behaviour.oov_cases())


@pytest.mark.slow
def test_shipped_bundle_pass_rates_not_below_card(default_bundle: Path) -> None:
    from training import datasets
    from training.split import split

    bundle = load_bundle(default_bundle)
    card = bundle.card
    assert "behaviour" in card, "the shipped card records no behavioural pass rates"
    test_texts = split(datasets.load(card["dataset"]["spec"]), seed=card["split"]["seed"]).test[0]
    got = behaviour.run(Predictor(bundle).predict_proba, test_texts)
    for cap, want in card["behaviour"].items():
        assert got[cap]["cases"] == want["cases"], cap
        assert got[cap]["pass_rate"] >= want["pass_rate"], (cap, got[cap], want)


@pytest.mark.slow
def test_shipped_bundle_negation_and_no_unknown_pieces(default_bundle: Path) -> None:
    card = load_bundle(default_bundle).card
    assert card["behaviour"]["negation"]["pass_rate"] >= 0.70
    assert all(v["unk_tokens"] == 0 for v in card["unk_rate"].values())
