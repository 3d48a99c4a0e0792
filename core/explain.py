"""Per-token explanations of a many-to-one RNN: the running score, each token's step, and its
leave-one-out effect, all computed exactly with the bundle's own graph.

For a text whose scored token ids are ``t[0..n-1]`` and a *target* label:

- ``running[i]`` = the model's probability of the target for the prefix ``t[0..i]`` (so
  ``running[n-1]`` is the full text's score, the one ``/predict`` returns);
- ``baseline`` = the model's probability of the target for the empty token sequence;
- ``step[i]`` = ``running[i] - running[i-1]`` (``running[-1]`` = ``baseline``);
- ``loo[i]`` = the score of the text without token ``i`` minus the full score.

The target is the card's last label for a binary bundle ("positive" for the shipped one: the
running score is the probability of positive), and the full text's predicted label otherwise.

Every prefix and every leave-one-out variant of every text (plus the empty sequence) is a row
of token ids scored by the bundle's graph through ``Predictor.predict_seqs``: the graph takes
right-padded ids and handles each row's length exactly (``sequence_lens``), so a prefix scored
in any padded batch is the prefix's score. This holds for any LSTM/GRU bundle, pooled or not;
there is no second implementation of the model. Cost: a text of n tokens is 2n + 1 rows and
about 1.5 n^2 row-steps of the RNN, against n for scoring it once.

``explain`` and ``score_items`` score all rows in one call (the CLI, the batch job). The
service ``plan``s a request's rows (deduplicated, sorted by length), submits them to its
batcher in ``slices`` of bounded cost, one after the other, and ``assemble``s the results, so
an explanation never holds the model long while ``/predict`` requests wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.runtime import Predictor
from core.textenc import TokenSpans

# One plain text in a full batch (the unit of the batcher's cost estimate) costs about as much
# as this many row-steps of an explanation. Measured on the shipped bundle (1 thread): 0.14 ms per
# text of a 32-text batch vs 2.8 / 5.6 / 11.8 ms to explain 20 / 30 / 45 tokens (590 / 1,335 /
# 3,015 row-steps): 29-35 row-steps per text; short texts cost relatively more, 64 tokens less.
ROW_STEPS_PER_TEXT = 30
# Largest slice of an explanation scored in one batch by the service: a /predict request waits
# for at most about one slice of explanation work. 512 row-steps (~1.5-2 ms here) measured a
# /predict p99 of 5.5 vs 2.9 ms with 10% of requests explaining 30 tokens (ratio 1.9, target
# 1.5): a predict arriving during a slice waits for most of it. 256 halves that wait for ~12%
# more explanation time (6.8 vs 6.1 ms in-process for 30 tokens, one call 5.4).
SLICE_ROW_STEPS = 256


def row_steps(n: int) -> int:
    """RNN row-steps to explain a text of ``n`` tokens: prefixes n(n+1)/2, leave-one-out n(n-1)."""
    return n * (n + 1) // 2 + n * (n - 1)


@dataclass(frozen=True)
class ExplainItem:
    """A text to explain, tokenized with its character offsets."""

    text: str
    spans: TokenSpans


def explain_rows(ids: list[int]) -> list[list[int]]:
    """The rows one text needs: the empty sequence, prefixes 1..n, then leave-one-out 0..n-1."""
    prefixes = [ids[:k] for k in range(1, len(ids) + 1)]
    dropped = [ids[:i] + ids[i + 1:] for i in range(len(ids))]
    return [[], *prefixes, *dropped]


def target_index(labels: list[str], full: np.ndarray) -> int:
    """The label whose probability is the running score (see the module docstring)."""
    return len(labels) - 1 if len(labels) == 2 else int(np.argmax(full))


def _number(x: float) -> float | None:
    """A JSON-safe float: None for NaN/inf (e.g. a pooled graph on an empty sequence)."""
    return x if math.isfinite(x) else None


def token_entries(spans: TokenSpans, running: list[float], baseline: float,
                  loo: list[float]) -> list[dict[str, Any]]:
    """One dict per scored token: text, span, flags, running score, step, leave-one-out."""
    out, before = [], baseline
    for i, (start, end) in enumerate(spans.offsets):
        out.append({"token": spans.tokens[i], "start": start, "end": end,
                    "unk": spans.unk[i], "special": spans.special[i],
                    "running": _number(running[i]), "step": _number(running[i] - before),
                    "loo": _number(loo[i])})
        before = running[i]
    return out


def explanation(predictor: Predictor, spans: TokenSpans, probs: np.ndarray) -> dict[str, Any]:
    """One text's explanation from the probabilities of its ``explain_rows`` (in that order)."""
    n = len(spans.ids)
    full = probs[n]  # the last prefix (row 0, the empty sequence, when there are no tokens)
    target = target_index(predictor.labels, full)
    col = probs[:, target].astype(np.float64)
    running, baseline = col[1:n + 1].tolist(), float(col[0])
    loo = (col[n + 1:] - col[n]).tolist()
    return {**predictor.to_results(full[None, :])[0], "target": predictor.labels[target],
            "baseline": _number(baseline), "tokens": token_entries(spans, running, baseline, loo),
            "truncated": [{"token": t, "start": s, "end": e}
                          for t, (s, e) in zip(spans.cut_tokens, spans.cut_offsets, strict=True)]}


@dataclass(frozen=True)
class RowsItem:
    """A slice of an explanation's rows, scored as one batcher job (result: ``{"probs"}``).

    The service scores explanations in slices of at most SLICE_ROW_STEPS row-steps, each
    submitted when the previous one is done, so ``/predict`` requests that arrive meanwhile
    wait for one slice, not for a whole explanation."""

    rows: list[list[int]]

    @property
    def units(self) -> int:
        return max(1, math.ceil(sum(len(r) for r in self.rows) / ROW_STEPS_PER_TEXT))


@dataclass(frozen=True)
class Plan:
    """The distinct rows a set of explanations needs, sorted by length, and the positions of
    each explanation's ``explain_rows`` among them."""

    items: list[ExplainItem]
    rows: list[list[int]]
    where: list[list[int]]


def plan(items: list[ExplainItem]) -> Plan:
    """Every explanation's rows, deduplicated (the empty sequence, shared prefixes) and sorted
    by length, so that consecutive rows pad little when batched together."""
    unique: dict[tuple[int, ...], int] = {}
    where = [[unique.setdefault(tuple(r), len(unique)) for r in explain_rows(it.spans.ids)]
             for it in items]
    keys = list(unique)
    order = sorted(range(len(keys)), key=lambda k: len(keys[k]))
    rank = [0] * len(keys)
    for new, old in enumerate(order):
        rank[old] = new
    return Plan(items, [list(keys[k]) for k in order], [[rank[p] for p in pos] for pos in where])


def slices(todo: Plan, max_steps: int = SLICE_ROW_STEPS) -> list[RowsItem]:
    """The plan's rows cut into consecutive slices of at most ``max_steps`` row-steps (a longer
    row is a slice of its own)."""
    out: list[RowsItem] = []
    cur: list[list[int]] = []
    steps = 0
    for row in todo.rows:
        if cur and steps + len(row) > max_steps:
            out.append(RowsItem(cur))
            cur, steps = [], 0
        cur.append(row)
        steps += len(row)
    if cur:
        out.append(RowsItem(cur))
    return out


def assemble(predictor: Predictor, todo: Plan, probs: np.ndarray) -> list[dict[str, Any]]:
    """The explanations of a plan from the probabilities of its rows (``todo.rows`` order)."""
    return [explanation(predictor, it.spans, probs[pos])
            for it, pos in zip(todo.items, todo.where, strict=True)]


BatchItem = str | ExplainItem | RowsItem


def score_items(predictor: Predictor, items: list[BatchItem],
                batch_size: int = 64) -> list[dict[str, Any]]:
    """Results in input order for a mix of texts (``/predict`` results), ExplainItems
    (explanations) and RowsItems (``{"probs": [rows, classes]}``), from one ``predict_seqs``."""
    plain = [item for item in items if isinstance(item, str)]
    seqs = iter(predictor.encode(plain) if plain else [])
    todo = plan([item for item in items if isinstance(item, ExplainItem)])
    rows, ranges = list(todo.rows), []  # ranges: [start, end) in rows of each other item
    for item in items:
        if not isinstance(item, ExplainItem):
            add = item.rows if isinstance(item, RowsItem) else [next(seqs)]
            ranges.append((len(rows), len(rows) + len(add)))
            rows += add
    probs = predictor.predict_seqs(rows, batch_size)
    explained, spans = iter(assemble(predictor, todo, probs)), iter(ranges)
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, ExplainItem):
            out.append(next(explained))
            continue
        a, b = next(spans)
        out.append({"probs": probs[a:b]} if isinstance(item, RowsItem)
                   else predictor.to_results(probs[a:b])[0])
    return out


def explain(predictor: Predictor, texts: list[str], batch_size: int = 64) -> list[dict[str, Any]]:
    """Explanations of ``texts``, in order (see the module docstring for their meaning)."""
    encoder = predictor.encoder
    items: list[BatchItem] = [ExplainItem(t, encoder.encode_spans(t)) for t in texts]
    return score_items(predictor, items, batch_size)
