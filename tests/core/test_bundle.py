"""Bundle loading and verification: the shipped bundle loads; tampering is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.bundle import BundleError, load_bundle, sha256_file


@pytest.fixture
def bundle_copy(default_bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(default_bundle, tmp_path / "b"))


def test_shipped_bundle_verifies(default_bundle: Path) -> None:
    b = load_bundle(default_bundle)
    assert b.labels == ["negative", "positive"]
    for name in ("model.onnx", "tokenizer.json"):
        assert sha256_file(default_bundle / name) == b.card["files"][name]["sha256"]
    assert b.version.startswith(b.card["files"]["model.onnx"]["sha256"][:12])
    assert {"labels", "version", "metrics"} <= set(b.summary())
    assert sum(p.stat().st_size for p in default_bundle.iterdir()) <= 10 * 1024 * 1024


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json"])
def test_tampered_file_is_rejected(bundle_copy: Path, name: str) -> None:
    with open(bundle_copy / name, "r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 1]))
    with pytest.raises(BundleError, match=f"{name} sha256 .* does not match"):
        load_bundle(bundle_copy)


def test_missing_file_bad_card_and_missing_dir(bundle_copy: Path, tmp_path: Path) -> None:
    (bundle_copy / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match="missing tokenizer.json"):
        load_bundle(bundle_copy)
    (bundle_copy / "card.json").write_text("{not json")
    with pytest.raises(BundleError, match="cannot read"):
        load_bundle(bundle_copy)
    (bundle_copy / "card.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(BundleError, match="not a sentiment-bundle"):
        load_bundle(bundle_copy)
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nowhere")
