"""One unscorable text in an adaptive batch fails only itself (real model, real tokenizer)."""

from __future__ import annotations

import numpy as np

from core.runtime import Predictor
from service.batch import ERROR_KEY, score_batch


def test_bad_text_is_isolated(default_bundle):
    predictor = Predictor(default_bundle)
    good = ["a superb film", "dull and tedious"]
    bad = "ab\ud800cd"  # a lone surrogate: the tokenizer raises (the HTTP gate rejects it: 422)
    results = score_batch(predictor, [good[0], bad, good[1]], batch_size=32)
    assert ERROR_KEY in results[1] and ERROR_KEY not in results[0]
    expected = predictor.predict_proba(good)
    for res, row in zip((results[0], results[2]), expected, strict=True):
        got = [res["scores"][label] for label in predictor.labels]
        np.testing.assert_allclose(got, row, atol=1e-6, rtol=0)


def test_good_batch_is_one_call(default_bundle):
    predictor = Predictor(default_bundle)
    assert score_batch(predictor, ["fine", "awful"], 32) == predictor.predict(["fine", "awful"])
