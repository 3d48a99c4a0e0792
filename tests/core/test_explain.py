"""core.explain is exact: running scores, steps and leave-one-out effects are the model's own
scores of prefixes and variants, on the shipped bundle and on tiny bundles trained here (a
word-level and a WordPiece one, whose ## pieces must map back to the user's characters)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.explain import (
    ExplainItem,
    RowsItem,
    assemble,
    explain,
    explain_rows,
    plan,
    row_steps,
    score_items,
    slices,
)
from core.runtime import Predictor

TEXTS = ["A moving, beautifully acted film that never quite earns its ending.",
         "dull and lifeless", "ok", "zqxwv blorft great", "Ça marche très bien 😀 great fun 😀",
         "the plot is tedious but the cast is wonderful and funny"]
TOL = 1e-6


@pytest.fixture(scope="module")
def predictor(default_bundle: Path) -> Predictor:
    return Predictor(default_bundle)


def alone(predictor: Predictor, ids: list[int], target: int) -> float:
    """The score of one id sequence scored by itself."""
    return float(predictor.predict_seqs([ids])[0, target])


def check_exact(predictor: Predictor, text: str, res: dict[str, Any]) -> None:
    """Every number of ``res`` against the Predictor scoring that sequence alone."""
    ids = predictor.encode([text])[0]
    target = predictor.labels.index(res["target"])
    full = predictor.predict_proba([text])[0]
    tokens = res["tokens"]
    assert len(tokens) == len(ids)
    assert abs(res["scores"][res["target"]] - full[target]) <= TOL
    assert res["label"] == predictor.labels[int(np.argmax(full))]
    assert abs(res["baseline"] - alone(predictor, [], target)) <= TOL
    if tokens:
        assert abs(tokens[-1]["running"] - full[target]) <= TOL
    before = res["baseline"]
    for i, tok in enumerate(tokens):
        assert abs(tok["running"] - alone(predictor, ids[:i + 1], target)) <= TOL
        assert abs(tok["step"] - (tok["running"] - before)) <= TOL
        without = alone(predictor, ids[:i] + ids[i + 1:], target)
        assert abs(tok["loo"] - (without - full[target])) <= TOL
        before = tok["running"]


def check_spans(predictor: Predictor, text: str, res: dict[str, Any]) -> None:
    """Spans lie in the text, in order, and cover the token's characters."""
    end = 0
    for tok in res["tokens"] + res["truncated"]:
        assert end <= tok["start"] < tok["end"] <= len(text)
        end = tok["end"]
        piece = text[tok["start"]:tok["end"]].lower()
        if not tok.get("unk") and piece.isascii():
            assert piece == tok["token"].removeprefix("##")


def test_exact_on_shipped_bundle(predictor: Predictor) -> None:
    results = explain(predictor, TEXTS)
    for text, res in zip(TEXTS, results, strict=True):
        check_exact(predictor, text, res)
        check_spans(predictor, text, res)
        assert res["target"] == "positive"  # binary: the card's last label
        assert res["truncated"] == []


def test_same_alone_and_batched(predictor: Predictor) -> None:
    together = explain(predictor, TEXTS)
    for text, res in zip(TEXTS, together, strict=True):
        single = explain(predictor, [text])[0]
        for a, b in zip(single["tokens"], res["tokens"], strict=True):
            assert abs(a["running"] - b["running"]) <= TOL and abs(a["loo"] - b["loo"]) <= TOL


def test_words_unknowns_and_unicode_spans(predictor: Predictor) -> None:
    text = "zqxwv blorft great"  # made-up words: WordPiece spells them in pieces, no [UNK]
    res = explain(predictor, [text])[0]
    assert not any(t["unk"] for t in res["tokens"])
    pieces = [text[t["start"]:t["end"]] for t in res["tokens"]]
    assert "".join(pieces) == text.replace(" ", "") and pieces[-1] == "great"
    text = "Très 😀 great"  # offsets count Python characters (code points)
    res = explain(predictor, [text])[0]
    assert text[res["tokens"][-1]["start"]:res["tokens"][-1]["end"]] == "great"


def test_truncated_tokens_are_marked_not_scored(predictor: Predictor) -> None:
    text = " ".join(["great", "film"] * 40)
    res = explain(predictor, [text])[0]
    assert len(res["tokens"]) == predictor.max_tokens
    assert len(res["truncated"]) == 80 - predictor.max_tokens
    assert res["truncated"][0]["start"] > res["tokens"][-1]["start"]
    assert abs(res["tokens"][-1]["running"] - predictor.predict_proba([text])[0, 1]) <= TOL


def test_text_without_tokens(predictor: Predictor) -> None:
    res = explain(predictor, ["   "])[0]
    assert res["tokens"] == [] and res["truncated"] == []
    assert abs(res["scores"]["positive"] - predictor.predict_proba(["   "])[0, 1]) <= TOL


def test_mixed_items_match_predict(predictor: Predictor) -> None:
    enc = predictor.encoder
    items: list[str | ExplainItem] = [TEXTS[0], ExplainItem(TEXTS[1], enc.encode_spans(TEXTS[1])),
                                      TEXTS[2], TEXTS[0]]
    out = score_items(predictor, items)
    plain = predictor.predict([TEXTS[0], TEXTS[2]])
    for got, want in zip([out[0], out[2], out[3]], [plain[0], plain[1], plain[0]], strict=True):
        assert got["label"] == want["label"] and abs(got["score"] - want["score"]) <= TOL
    assert "tokens" in out[1] and "tokens" not in out[0]


def test_sliced_scoring_gives_the_same_explanations(predictor: Predictor) -> None:
    """The service's path: one plan for several texts, its rows scored in small slices (each
    slice a batch of its own, mixed with plain texts), then assembled."""
    enc = predictor.encoder
    todo = plan([ExplainItem(t, enc.encode_spans(t)) for t in TEXTS])
    assert [len(r) for r in todo.rows] == sorted(len(r) for r in todo.rows)
    assert len({tuple(r) for r in todo.rows}) == len(todo.rows)  # deduplicated
    pieces = slices(todo, max_steps=40)
    assert len(pieces) > 5 and all(sum(map(len, p.rows)) <= 40 or len(p.rows) == 1 for p in pieces)
    probs = [score_items(predictor, ["a filler text", p])[1]["probs"] for p in pieces]
    got = assemble(predictor, todo, np.concatenate(probs))
    for a, b in zip(got, explain(predictor, TEXTS), strict=True):
        assert a["label"] == b["label"] and len(a["tokens"]) == len(b["tokens"])
        for x, y in zip(a["tokens"], b["tokens"], strict=True):
            assert all(abs(x[k] - y[k]) <= TOL for k in ("running", "step", "loo"))
    assert RowsItem([[5] * 30, [6] * 31]).units == 3


def test_rows_and_cost() -> None:
    assert explain_rows([5, 6, 7]) == [[], [5], [5, 6], [5, 6, 7], [6, 7], [5, 7], [5, 6]]
    assert row_steps(3) == 6 + 6


@pytest.mark.slow
def test_exact_on_tiny_bundle(tiny_bundle: Path) -> None:
    predictor = Predictor(tiny_bundle)
    texts = ["great film and a wonderful story", "boring dull plot", "zzz unknownword superb"]
    for text, res in zip(texts, explain(predictor, texts), strict=True):
        check_exact(predictor, text, res)
        check_spans(predictor, text, res)


@pytest.fixture(scope="module")
def wordpiece_bundle(tmp_path_factory: pytest.TempPathFactory, tiny_csv: Path) -> Path:
    """A tiny WordPiece bundle: words split into ## pieces (~10-20 s; needs TensorFlow)."""
    from training.model import ModelConfig
    from training.pipeline import RunConfig, run
    from training.tokenizer import TokenizerConfig

    cfg = RunConfig(dataset=f"csv:{tiny_csv}", name="tiny-wp", out_dir=tmp_path_factory.mktemp("wp"),
                    tokenizer=TokenizerConfig(kind="wordpiece", vocab_size=120, max_tokens=24),
                    model=ModelConfig(embedding_dim=16, units=16, embedding_dropout=0.0,
                                      dropout=0.1, pretrained=None),
                    epochs=2, batch_size=32, patience=1, distill=False, verbose=0,
                    results_dir=tmp_path_factory.mktemp("results"))
    return run(cfg)


@pytest.mark.slow
def test_exact_on_wordpiece_bundle(wordpiece_bundle: Path) -> None:
    predictor = Predictor(wordpiece_bundle)
    texts = ["wonderfully charming acting", "tediously bland plot w123", "superbness"]
    results = explain(predictor, texts)
    assert any(t["token"].startswith("##") for r in results for t in r["tokens"])
    for text, res in zip(texts, results, strict=True):
        check_exact(predictor, text, res)
        check_spans(predictor, text, res)


def test_truncation_with_stride_lists_each_cut_token_once(default_bundle: Path) -> None:
    from core.textenc import encode_spans, load_tokenizer

    tokenizer = load_tokenizer(default_bundle / "tokenizer.json")
    text = " ".join(["great", "film"] * 60)
    plain = encode_spans(tokenizer, text, 64)
    tokenizer.enable_truncation(max_length=64, stride=8)  # overlapping overflow windows
    strided = encode_spans(tokenizer, text, 64)
    assert strided.ids == plain.ids and strided.cut_offsets == plain.cut_offsets
    assert len(plain.cut_tokens) == 120 - 64
