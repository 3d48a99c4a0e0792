"""Read and verify a model bundle (``model.onnx`` + ``tokenizer.json`` + ``card.json``).

The bundle is the contract between training and everything else. Loading checks the card's
format and the sha256 of every listed file before anything is parsed; nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CARD = "card.json"
MODEL = "model.onnx"
TOKENIZER = "tokenizer.json"
FORMAT = "sentiment-bundle/1"
REQUIRED_FILES = (MODEL, TOKENIZER)


class BundleError(RuntimeError):
    """A bundle that is missing, malformed or fails verification."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Bundle:
    """A verified bundle on disk."""

    path: Path
    card: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.card["name"])

    @property
    def version(self) -> str:
        return str(self.card["version"])

    @property
    def labels(self) -> list[str]:
        return list(self.card["labels"])

    @property
    def max_tokens(self) -> int:
        return int(self.card["max_tokens"])

    @property
    def model_path(self) -> Path:
        return self.path / MODEL

    @property
    def tokenizer_path(self) -> Path:
        return self.path / TOKENIZER

    def summary(self) -> dict[str, Any]:
        """The public card summary served by ``GET /model``."""
        keys = ("name", "version", "labels", "max_tokens", "created_at", "dataset", "metrics",
                "architecture", "parity")
        return {k: self.card[k] for k in keys if k in self.card}


def load_card(path: Path) -> dict[str, Any]:
    """Parse ``card.json`` and check the fields every reader relies on."""
    card_path = path / CARD
    if not path.is_dir():
        raise BundleError(f"model bundle {path} does not exist or is not a directory")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"cannot read {card_path}: {exc}") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise BundleError(f"{card_path} is not a {FORMAT} card")
    for key in ("name", "version", "labels", "max_tokens", "files"):
        if key not in card:
            raise BundleError(f"{card_path} lacks required field {key!r}")
    return card


def load_bundle(path: str | Path) -> Bundle:
    """Load a bundle and verify every required file's sha256 against the card."""
    root = Path(path)
    card = load_card(root)
    for name in REQUIRED_FILES:
        expected = card["files"].get(name, {}).get("sha256")
        file = root / name
        if not file.is_file():
            raise BundleError(f"bundle {root} is missing {name}")
        if not expected:
            raise BundleError(f"card of bundle {root} lists no sha256 for {name}")
        actual = sha256_file(file)
        if actual != expected:
            raise BundleError(f"bundle {root}: {name} sha256 {actual[:12]}… does not match the "
                              f"card ({expected[:12]}…); the file was modified or corrupted")
    return Bundle(root, card)
