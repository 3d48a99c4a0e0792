"""Thin wrappers around the docker and compose CLIs for the container test and measurements.

Works with docker-compose v1.29 (``docker-compose``) and Compose v2 (``docker compose``): the
compose command is passed in, the project name and variables go through the environment.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import time
from pathlib import Path

from devtools.launcher import http_status  # the project is installed in the venv (-e .)

log = logging.getLogger("deploy.dockerctl")
REPO = Path(__file__).resolve().parents[1]


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``docker ARGS``; output captured as text; RuntimeError with stderr on failure."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:2])} failed ({proc.returncode}): "
                           f"{proc.stderr.strip()[-2000:]}")
    return proc


def inspect(container: str) -> dict:
    """``docker inspect`` of one container."""
    return json.loads(docker("inspect", container).stdout)[0]




class Compose:
    """One compose project (``-p NAME``) of the repo's docker-compose.yml with fixed variables."""

    def __init__(self, command: str, project: str, variables: dict[str, str]) -> None:
        self.command = shlex.split(command)
        self.project = project
        self.env = {**os.environ, **variables, "COMPOSE_PROJECT_NAME": project}

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``compose -p PROJECT -f docker-compose.yml ARGS`` in the repo."""
        cmd = [*self.command, "-p", self.project, "-f", str(REPO / "docker-compose.yml"), *args]
        log.debug("running %s", shlex.join(cmd))
        proc = subprocess.run(cmd, cwd=REPO, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{shlex.join(cmd[-len(args):])} failed ({proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
        return proc

    def container(self, service: str) -> str:
        """Id of the service's (first) container, including stopped ones."""
        ids = self.run("ps", "-a", "-q", service).stdout.split()
        if not ids:
            raise RuntimeError(f"no container for service {service!r}")
        return ids[0]

    def leftovers(self) -> list[str]:
        """Containers that still carry this project's label (should be none after down)."""
        out = docker("ps", "-a", "-q", "--filter",
                     f"label=com.docker.compose.project={self.project}").stdout
        return out.split()

    def down(self) -> None:
        """``down`` with every profile's services, volumes and orphans removed."""
        self.run("--profile", "score", "--profile", "loadtest", "down", "--volumes",
                 "--remove-orphans", "--timeout", "30", check=False)


def wait_ready(url: str, timeout: float, container: str | None = None) -> float:
    """Seconds until GET url answers 200 (polled every 0.1 s); fails early if the container dies."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if http_status(url, timeout=1.0) == 200:
            return time.monotonic() - start
        state = inspect(container)["State"] if container else {"Running": True, "Restarting": False}
        if not state["Running"] or state["Restarting"]:
            logs = docker("logs", "--tail", "30", container)
            raise RuntimeError(f"container exited ({state['ExitCode']}):\n"
                               f"{logs.stdout[-2000:]}{logs.stderr[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready within {timeout:.0f} s")


def wait_health(container: str, want: str = "healthy", timeout: float = 120) -> float:
    """Seconds until Docker's health status of the container is ``want``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        state = inspect(container)["State"]
        if state.get("Health", {}).get("Status") == want:
            return time.monotonic() - start
        if not state["Running"]:
            raise RuntimeError(f"container exited with code {state['ExitCode']}")
        time.sleep(0.25)
    raise RuntimeError(f"container not {want} within {timeout:.0f} s")
