"""End-to-end container test: compose up, health, predictions, score profile, hardening, SIGTERM.

Run by deploy/container_test.sh after the image is built (``make container-test``); needs a
running Docker engine and the repo's .venv (the host runtime computes the expected scores).
Prints one JSON line of measured figures; exits non-zero on the first failed check. The compose
project is always taken down, and the check fails if any of its containers is left behind.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dockerctl
from dockerctl import Compose, docker, inspect
from drain import check_drain

log = logging.getLogger("deploy.e2e")
REPO = dockerctl.REPO
SERVICE = "sentiment"
TEXTS = ["A moving, beautifully acted film with a superb cast.", "Dull, tedious and far too long.",
         "The plot is thin but the actors are charming.", "I walked out after an hour.",
         "Ni bien ni mal — une comédie tiède.", "!!!", "great " * 80]
FORBIDDEN = ("tensorflow", "keras", "tf2onnx")


def host_predictor():
    """The TF-free runtime on the host: the reference the container must agree with."""
    sys.path.insert(0, str(REPO))
    from core.runtime import Predictor
    return Predictor(REPO / "models" / "default")


def post_predict(port: int, texts: list[str]) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/predict", method="POST",
                                 data=json.dumps({"texts": texts}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def check_scores(got: list[dict], want: list[dict], tol: float = 1e-5) -> float:
    """Same labels and per-class scores within ``tol``; returns the largest difference."""
    assert len(got) == len(want), f"{len(got)} results for {len(want)} texts"
    worst = 0.0
    for g, w in zip(got, want, strict=True):
        assert g["label"] == w["label"], f"label {g['label']} != runtime's {w['label']}"
        worst = max(worst, *(abs(g["scores"][k] - w["scores"][k]) for k in w["scores"]))
    assert worst <= tol, f"scores differ from the runtime's by {worst:.2e} > {tol}"
    return worst


def check_image(image: str) -> dict:
    """No TensorFlow/Keras/tf2onnx in the image; the serving stack is there."""
    code = ("import importlib.util as u, json; print(json.dumps({m: bool(u.find_spec(m)) for m in "
            f"{FORBIDDEN + ('onnxruntime', 'bentoml', 'tokenizers')!r}}}))")
    found = json.loads(docker("run", "--rm", "--network", "none", "--entrypoint", "python3",
                              image, "-c", code).stdout)
    bad = [m for m in FORBIDDEN if found[m]]
    assert not bad, f"serving image contains {bad}"
    assert all(found[m] for m in ("onnxruntime", "bentoml", "tokenizers")), found
    size = int(docker("image", "inspect", image, "--format", "{{.Size}}").stdout)
    return {"image_size_mb": round(size / 1e6), "tensorflow_in_image": False}


def check_hardening(container: str) -> dict:
    """Non-root processes, read-only root, writable /tmp only, all capabilities dropped."""
    host = inspect(container)["HostConfig"]
    assert host["ReadonlyRootfs"], "root filesystem is not read-only"
    assert host["CapDrop"] and "ALL" in host["CapDrop"], host["CapDrop"]
    assert any("no-new-privileges" in o for o in host["SecurityOpt"] or []), host["SecurityOpt"]
    assert host["NetworkMode"] == "host", host["NetworkMode"]
    top = docker("top", container, "-eo", "pid,uid").stdout.splitlines()[1:]
    uids = {line.split()[1] for line in top if line.strip()}
    assert uids and "0" not in uids, f"processes run as uids {uids}"
    denied = docker("exec", container, "sh", "-c", "touch /app/x", check=False)
    assert denied.returncode != 0 and "Read-only" in denied.stderr, denied.stderr
    docker("exec", container, "sh", "-c", "touch /tmp/probe && rm /tmp/probe")
    return {"uids": sorted(uids), "read_only_root": True}


def check_score_profile(compose: Compose, work: Path, predictor) -> dict:
    """`--profile score run score` on a small CSV; output equals the runtime's scores."""
    texts = [f"{t} #{i}" for i in range(40) for t in TEXTS[:5]]
    inp, out = work / "in", work / "out"
    inp.mkdir()
    out.mkdir()
    out.chmod(0o777)  # the job runs as uid 10001
    with open(inp / "input.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows((i, t) for i, t in enumerate(texts))
    compose.env.update({"SCORE_INPUT_DIR": str(inp), "SCORE_OUTPUT_DIR": str(out)})
    start = time.monotonic()
    compose.run("--profile", "score", "run", "--rm", "score")
    with open(out / "scored.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]  # input order
    assert [r["id"] for r in rows] == [str(i) for i in range(len(texts))]  # the input's ids
    check_scores(rows, predictor.predict(texts))
    return {"score_rows": len(rows), "score_run_s": round(time.monotonic() - start, 1)}


def serve_checks(compose: Compose, port: int, image: str, predictor, work: Path) -> dict:
    """Everything done while (or after) the service runs: returns the measured figures."""
    start = time.monotonic()
    compose.run("up", "-d", SERVICE)
    container = compose.container(SERVICE)
    figures = {"cold_start_to_ready_s": round(time.monotonic() - start + dockerctl.wait_ready(
        f"http://127.0.0.1:{port}/readyz", 180, container), 2)}
    figures["healthy_after_s"] = round(dockerctl.wait_health(container) + time.monotonic() - start, 1)
    got = post_predict(port, TEXTS)
    figures["max_score_diff"] = check_scores(got["results"], predictor.predict(TEXTS))
    assert got["version"] == predictor.bundle.version, (got["version"], predictor.bundle.version)
    figures |= check_hardening(container) | check_image(image)
    figures |= check_score_profile(compose, work, predictor)
    expected = [r["label"] for r in predictor.predict(TEXTS)]
    figures |= check_drain(compose, SERVICE, port, TEXTS, expected)
    return figures


def test_env_file(work: Path) -> Path:
    """The example env file with access logging off (as in the measurements)."""
    env_file = work / "sentiment.env"
    env_file.write_text((REPO / "deploy" / "sentiment.env.example").read_text()
                        + "SENTIMENT_ACCESS_LOG=false\n")
    return env_file


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", required=True, help="serving image tag (already built)")
    p.add_argument("--compose", default="docker-compose", help="compose command")
    p.add_argument("--project", default="sentiment-ct", help="compose project name")
    p.add_argument("--port", type=int, required=True, help="free loopback port for the service")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    predictor = host_predictor()
    with tempfile.TemporaryDirectory(prefix="sentiment-ct-") as tmp:
        work = Path(tmp)
        env_file = test_env_file(work)
        compose = Compose(args.compose, args.project, {
            "SENTIMENT_IMAGE": args.image, "SENTIMENT_PORT": str(args.port),
            "SENTIMENT_ENV_FILE": str(env_file), "SENTIMENT_HEALTH_INTERVAL": "1s"})
        try:
            figures = serve_checks(compose, args.port, args.image, predictor, work)
        finally:
            compose.down()
            left = compose.leftovers()
        assert not left, f"containers left after down: {left}"
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
