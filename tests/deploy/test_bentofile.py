"""bentofile.yaml: BentoML accepts it, its pins equal constraints.txt for the `serve` extra, and
`bentoml build` (offline, lock_packages off) packs the service and the shipped bundle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_pins_are_the_serve_closure_at_the_constraints_versions() -> None:
    from devtools.bentofile import BENTOFILE, pinned_packages, render

    text = BENTOFILE.read_text()
    assert render(text, pinned_packages()) == text, "run: python -m devtools.bentofile"
    pins = dict(p.split("==") for p in yaml.safe_load(text)["python"]["packages"])
    for must in ("bentoml", "onnxruntime", "tokenizers", "kantoku", "starlette", "uvicorn"):
        assert must in pins, must
    assert not any(p in ("tensorflow", "tensorflow-cpu", "keras", "tf2onnx") for p in pins)


def test_envs_make_a_containerized_bento_listen_everywhere() -> None:
    envs = {e["name"]: e["value"] for e in yaml.safe_load(
        (ROOT / "bentofile.yaml").read_text())["envs"]}
    assert envs["SENTIMENT_HOST"] == "0.0.0.0"


def test_bentoml_parses_it() -> None:
    from bentoml._internal.bento.build_config import BentoBuildConfig

    with open(ROOT / "bentofile.yaml") as fh:
        cfg = BentoBuildConfig.from_yaml(fh)
    assert cfg.service == "service.app:SentimentService"
    assert cfg.python.lock_packages is False  # building must not need a PyPI resolver


@pytest.mark.slow
def test_bentoml_build_then_serve_the_built_bento(tmp_path: Path) -> None:
    """`bentoml build` offline packs the product only; `bentoml serve TAG` of the built Bento,
    containerized (BENTOML_CONTAINERIZED=true, the Bento's envs), listens on every interface
    and predicts."""
    from devtools.launcher import ServiceProcess, free_port

    env = {**os.environ, "BENTOML_HOME": str(tmp_path), "BENTOML_DO_NOT_TRACK": "True"}
    bentoml = Path(sys.executable).with_name("bentoml")
    subprocess.run([str(bentoml), "build", str(ROOT)], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=240)
    (bento,) = [p for p in (tmp_path / "bentos" / "sentiment").iterdir() if p.name != "latest"]
    src = bento / "src"
    for name in ("card.json", "model.onnx", "tokenizer.json"):
        assert (src / "models" / "default" / name).is_file()
    assert (src / "service" / "app.py").is_file() and (src / "core" / "runtime.py").is_file()
    for dev in ("training", "tests", "bench", "devtools", "load_tests"):
        assert not (src / dev).exists(), dev
    reqs = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "bentoml==" in reqs and "tensorflow" not in reqs and "keras" not in reqs
    port = free_port()
    tag = f"sentiment:{bento.name}"
    serve_env = {"BENTOML_HOME": str(tmp_path), "BENTOML_CONTAINERIZED": "true",
                 "SENTIMENT_WORKERS": "1", "SENTIMENT_HOST": None, "SENTIMENT_MODEL_DIR": None}
    cmd = [str(bentoml), "serve", tag, "--port", str(port)]
    with ServiceProcess(serve_env, port=port, command=cmd) as svc:
        listening = Path("/proc/net/tcp").read_text()
        assert f"00000000:{port:04X} 00000000:0000 0A" in listening  # 0.0.0.0:port LISTEN
        r = httpx.post(f"{svc.url}/predict", json={"text": "a superb, moving film"}, timeout=30)
        assert r.status_code == 200 and r.json()["results"][0]["label"] in ("positive", "negative")
