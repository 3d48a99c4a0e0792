"""Throughput in the container vs the same service outside it, with the same load generator.

Starts the compose service (image already built) and `bentoml serve` of the same code on the
host, both with the example env file's settings (1 worker, 1 onnxruntime thread, access log
off), then alternates closed-loop devtools.loadgen runs between them (ROUNDS x SECONDS each) so background
load on a shared machine hits both alike. Prints medians as one JSON line.

    python deploy/measure.py --image sentiment:container-test --port 3100 --host-port 3101
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import dockerctl
from dockerctl import Compose
from e2e import REPO, SERVICE, test_env_file


def env_settings(env_file: Path) -> dict[str, str]:
    lines = env_file.read_text().splitlines()
    return dict(ln.split("=", 1) for ln in lines if ln.strip() and not ln.startswith("#"))


BODY = json.dumps({"texts": ["A moving, beautifully acted film."]}).encode()


def alternate(urls: dict[str, str], rounds: int, seconds: float, connections: int) -> dict:
    """Round-robin closed-loop runs over the targets; medians of requests/s and latencies."""
    from devtools.loadgen import LoadSpec, run_load

    runs: dict[str, list[dict]] = {name: [] for name in urls}
    for _ in range(rounds):
        for name, url in urls.items():
            spec = LoadSpec(f"{url}/predict", [BODY], duration_s=seconds, connections=connections)
            result = run_load(spec)
            runs[name].append({**result, "rps": result["achieved_rps"]})
    return {name: {"rps_median": statistics.median(r["rps"] for r in rs),
                   "p50_ms_median": statistics.median(r["p50_ms"] for r in rs),
                   "p99_ms_median": statistics.median(r["p99_ms"] for r in rs),
                   "errors": sum(r["errors"] for r in rs), "runs": [r["rps"] for r in rs]}
            for name, rs in runs.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", required=True)
    p.add_argument("--compose", default="docker-compose")
    p.add_argument("--project", default="sentiment-measure")
    p.add_argument("--port", type=int, required=True, help="container's loopback port")
    p.add_argument("--host-port", type=int, required=True, help="host service's port")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--connections", type=int, default=8)
    a = p.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from devtools.launcher import ServiceProcess

    with tempfile.TemporaryDirectory(prefix="sentiment-measure-") as tmp:
        env_file = test_env_file(Path(tmp))
        compose = Compose(a.compose, a.project, {"SENTIMENT_IMAGE": a.image,
                          "SENTIMENT_PORT": str(a.port), "SENTIMENT_ENV_FILE": str(env_file)})
        host_env = {**env_settings(env_file), "BENTOML_HOME": str(Path(tmp) / "bentoml")}
        host_env.pop("SENTIMENT_MODEL_DIR")
        try:
            compose.run("up", "-d", SERVICE)
            dockerctl.wait_ready(f"http://127.0.0.1:{a.port}/readyz", 180,
                                 compose.container(SERVICE))
            with ServiceProcess(host_env, port=a.host_port) as svc:
                svc.wait_ready()
                result = alternate({"container": f"http://127.0.0.1:{a.port}", "host": svc.url},
                                   a.rounds, a.seconds, a.connections)
        finally:
            compose.down()
    result["container_vs_host"] = round(result["container"]["rps_median"]
                                        / result["host"]["rps_median"], 3)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
