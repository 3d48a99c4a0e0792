"""What counts as a good /predict answer (kept free of Locust so tests can import it)."""

from __future__ import annotations

import json


def check_predict(status: int, body: bytes | None, n_texts: int,
                  labels: set[str] | frozenset[str] = frozenset()) -> str | None:
    """Return why a /predict response is bad, or None when it is a good answer."""
    if status != 200:
        return f"HTTP {status}: {(body or b'')[:160].decode('utf-8', 'replace')}"
    try:
        data = json.loads(body or b"")
    except ValueError:
        return "response is not JSON"
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or len(results) != n_texts:
        got = len(results) if isinstance(results, list) else "no"
        return f"expected {n_texts} results, got {got}"
    for res in results:
        if not isinstance(res, dict):
            return "result is not an object"
        label, score = res.get("label"), res.get("score")
        if not isinstance(label, str) or (labels and label not in labels):
            return f"bad label {label!r}"
        if not isinstance(score, int | float) or not 0.0 <= score <= 1.0:
            return f"bad score {score!r}"
    return None
