"""Shared fixtures: the repo root, the shipped bundle, and a tiny bundle trained in-process."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "models" / "default"

POSITIVE = ["great", "wonderful", "moving", "brilliant", "funny", "charming", "superb", "fresh"]
NEGATIVE = ["awful", "boring", "dull", "tedious", "clumsy", "bland", "weak", "lifeless"]
FILLER = ["the", "film", "movie", "is", "a", "story", "with", "acting", "and", "plot", "quite"]


def synthetic_rows(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Learnable labeled texts: sentiment words mixed into filler, varied lengths."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "positive" if i % 2 else "negative"
        words = rng.sample(POSITIVE if i % 2 else NEGATIVE, 2)
        words += rng.choices(FILLER, k=rng.randint(2, 14)) + [f"w{i}"]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def default_bundle() -> Path:
    """The shipped bundle, models/default."""
    assert (DEFAULT_BUNDLE / "card.json").is_file(), "models/default is missing"
    return DEFAULT_BUNDLE


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "tiny.csv", synthetic_rows(400))


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory, tiny_csv: Path) -> Path:
    """A small LSTM bundle trained in-process on synthetic data (~10-20 s; needs TensorFlow)."""
    from training.model import ModelConfig
    from training.pipeline import RunConfig, run
    from training.tokenizer import TokenizerConfig

    cfg = RunConfig(dataset=f"csv:{tiny_csv}", name="tiny", out_dir=tmp_path_factory.mktemp("models"),
                    tokenizer=TokenizerConfig(vocab_size=2000, max_tokens=24),
                    # last-state, fp32 table: the graph bench/plain_bundle.py knows how to unfuse
                    model=ModelConfig(embedding_dim=16, units=16, embedding_dropout=0.0, dropout=0.1,
                                      pooling="last", fp16_embedding=False),
                    epochs=3, batch_size=32, patience=1, distill=False, verbose=0,
                    results_dir=tmp_path_factory.mktemp("results"))
    return run(cfg)


@pytest.fixture(autouse=True)
def _sweep_results_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed-sweep files of test runs go to a temporary folder, never into training/results."""
    import importlib.util

    if importlib.util.find_spec("training.experiment") is None:
        return
    import training.experiment

    monkeypatch.setattr(training.experiment, "RESULTS", tmp_path_factory.mktemp("sweeps"))
