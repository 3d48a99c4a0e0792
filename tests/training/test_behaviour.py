"""CheckList-style behavioural tests of the shipped bundle (onnxruntime + tokenizers, no TF):
per-capability pass rates must not fall below those recorded in its card."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.bundle import load_bundle
from core.runtime import Predictor
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


# Pass rates of the previous shipped bundle (word-level LSTM, last state), measured with
# behaviour.run on its model.onnx: the shipped bundle must not fall below them either.
PREVIOUS = {"negation": 0.305, "intensifiers": 0.7725, "names": 1.0, "punctuation": 0.97,
            "typos": 0.9467, "oov_domain": 0.975}


@pytest.mark.slow
def test_shipped_bundle_vs_previous_and_no_unknown_pieces(default_bundle: Path) -> None:
    card = load_bundle(default_bundle).card
    worse = {k: (card["behaviour"][k]["pass_rate"], v) for k, v in PREVIOUS.items()
             if card["behaviour"][k]["pass_rate"] < v - 0.02}  # 0.02: a few cases of 168-400
    assert not worse, worse
    assert all(v["unk_tokens"] == 0 for v in card["unk_rate"].values())
