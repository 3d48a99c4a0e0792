"""``sentiment score --explain``: per-token steps in the JSONL output (local engine only).

Each output row gets ``"explain": {"target", "baseline", "tokens": [{"token", "start",
"end", "step"}, ...]}`` from core.explain (the same numbers as ``POST /explain``; ``start``/
``end`` are character offsets in the row's text). Explaining costs ~1.5 n^2 RNN steps per text
of n tokens instead of n, so it is off by default.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.explain import BatchItem, ExplainItem, score_items
from core.runtime import Predictor
from core.textenc import TextEncoder

FORMAT_ERROR = ("--explain writes per-token steps into JSONL output only; give an OUTPUT ending "
                "in .jsonl or --output-format jsonl")
ENGINE_ERROR = "--explain runs on the local engine only; drop --engine ray"


def check_explain(output_format: str, engine: str) -> None:
    """One-line errors for the combinations --explain does not support."""
    if output_format != "jsonl":
        raise ValueError(FORMAT_ERROR)
    if engine != "local":
        raise ValueError(ENGINE_ERROR)


def explain_items(encoder: TextEncoder, texts: list[str]) -> list[BatchItem]:
    """Texts tokenized with their offsets, ready for ``explain_window`` (reader thread)."""
    return [ExplainItem(t, encoder.encode_spans(t)) for t in texts]


def explain_fields(res: dict[str, Any]) -> dict[str, Any]:
    """The ``explain`` field of one output row."""
    tokens = [{"token": t["token"], "start": t["start"], "end": t["end"], "step": t["step"]}
              for t in res["tokens"]]
    return {"explain": {"target": res["target"], "baseline": res["baseline"], "tokens": tokens}}


def explain_window(predictor: Predictor, items: list[BatchItem],
                   batch_size: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Probabilities [n, classes] and the extra JSONL fields of a window's rows."""
    results = score_items(predictor, items, batch_size)
    labels = predictor.labels
    probs = np.array([[r["scores"][lab] for lab in labels] for r in results], dtype=np.float32)
    return probs.reshape(len(results), len(labels)), [explain_fields(r) for r in results]
