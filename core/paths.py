"""Where the shipped default bundle lives, resolved the same way by every command."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR_ENV = "SENTIMENT_MODEL_DIR"


def shipped_model_dir() -> Path:
    """``models/default`` of the installed project, whatever the working directory."""
    return PROJECT_ROOT / "models" / "default"


def default_model_dir() -> Path:
    """``$SENTIMENT_MODEL_DIR`` if set, else the shipped bundle: the default of every command."""
    env = os.environ.get(MODEL_DIR_ENV, "").strip()
    return Path(env).expanduser() if env else shipped_model_dir()
