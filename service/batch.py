"""Scoring one adaptive batch so that one bad text cannot fail the other requests in it.

A batch concatenates the texts of several clients' requests. If scoring the whole batch
raises (which validation in service.schema should make impossible), the texts are scored one by
one and only the failing ones get an error marker; service.io answers 500 for the requests
that hold such a marker and 200 for all the others.
"""

from __future__ import annotations

import logging

from core.runtime import Predictor

log = logging.getLogger("bentoml.sentiment")
ERROR_KEY = "error"


def score_batch(predictor: Predictor, texts: list[str], batch_size: int) -> list[dict]:
    """Results for ``texts`` in order; a text that cannot be scored gets ``{"error": ...}``."""
    try:
        return predictor.predict(texts, batch_size=batch_size)
    except Exception:  # noqa: BLE001 - isolate below, whatever the runtime raised
        log.exception("scoring a batch of %d texts failed; retrying them one by one", len(texts))
    results = []
    for text in texts:
        try:
            results.append(predictor.predict([text])[0])
        except Exception as exc:  # noqa: BLE001
            results.append({ERROR_KEY: f"{type(exc).__name__}: {exc}"})
    return results
