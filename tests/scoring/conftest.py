"""Fixtures for the scoring tests: a mixed good/bad CSV and a Predictor on the shipped bundle."""

from __future__ import annotations

from pathlib import Path

import pytest
from scoring_testlib import BAD_CSV


@pytest.fixture
def bad_csv(tmp_path: Path) -> Path:
    path = tmp_path / "bad.csv"
    path.write_bytes(BAD_CSV)
    return path


@pytest.fixture(scope="session")
def predictor(default_bundle: Path):
    from core.runtime import Predictor

    return Predictor(default_bundle)
