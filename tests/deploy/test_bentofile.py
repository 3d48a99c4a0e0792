"""bentofile.yaml: BentoML accepts it, its pins equal constraints.txt for the `serve` extra, and
`bentoml build` (offline, lock_packages off) packs the service and the shipped bundle."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_pins_match_serve_extra_and_constraints() -> None:
    cfg = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    pins = dict(p.split("==") for p in cfg["python"]["packages"])
    serve = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["serve"]
    constraints = dict(ln.split("==") for ln in (ROOT / "constraints.txt").read_text().split()
                       if "==" in ln)
    constraints = {norm(k): v for k, v in constraints.items()}
    assert {norm(p) for p in pins} == {norm(s) for s in serve}
    assert {norm(k): v for k, v in pins.items()} == {norm(k): constraints[norm(k)] for k in pins}
    assert not any(norm(p) in ("tensorflow", "tensorflow-cpu", "keras", "tf2onnx") for p in pins)


def test_bentoml_parses_it() -> None:
    from bentoml._internal.bento.build_config import BentoBuildConfig

    with open(ROOT / "bentofile.yaml") as fh:
        cfg = BentoBuildConfig.from_yaml(fh)
    assert cfg.service == "service.app:SentimentService"
    assert cfg.python.lock_packages is False  # building must not need a PyPI resolver


@pytest.mark.slow
def test_bentoml_build_packs_service_and_bundle(tmp_path: Path) -> None:
    env = {**os.environ, "BENTOML_HOME": str(tmp_path), "BENTOML_DO_NOT_TRACK": "True"}
    bentoml = Path(sys.executable).with_name("bentoml")
    subprocess.run([str(bentoml), "build", str(ROOT)], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=240)
    (bento,) = [p for p in (tmp_path / "bentos" / "sentiment").iterdir() if p.name != "latest"]
    src = bento / "src"
    for name in ("card.json", "model.onnx", "tokenizer.json"):
        assert (src / "models" / "default" / name).is_file()
    assert (src / "service" / "app.py").is_file()
    assert not (src / "training").exists() and not (src / "tests").exists()
    reqs = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "bentoml==" in reqs and "tensorflow" not in reqs and "keras" not in reqs
