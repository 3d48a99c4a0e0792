"""Serving code must never import TensorFlow, Keras or tf2onnx."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("tensorflow", "keras", "tf2onnx")


def _modules(root: Path, package: str) -> list[str]:
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(root / package)])]


def test_serving_modules_do_not_import_tensorflow(repo_root: Path) -> None:
    mods = ["service"] + _modules(repo_root, "service")
    if (repo_root / "scoring").is_dir():
        mods += ["scoring"] + _modules(repo_root, "scoring")
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n    importlib.import_module(m)\n"
        "from core.runtime import Predictor\n"
        "Predictor('models/default').predict(['fine'])\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(len(sys.modules)); assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
