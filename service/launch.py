"""How `sentiment serve` (and the test harness) start BentoML on this service."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

APP_ROOT = Path(__file__).resolve().parents[1]  # the folder holding the service package
SERVICE_TARGET = "service.app:SentimentService"


def check_port_free(host: str, port: int) -> None:
    """Raise OSError (EADDRINUSE) if anything listens on ``host:port`` (a TIME_WAIT is fine)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def bentoml_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``bentoml serve`` command line, run with this interpreter's venv."""
    bentoml = Path(sys.executable).with_name("bentoml")
    exe = [str(bentoml)] if bentoml.exists() else [sys.executable, "-m", "bentoml"]
    return [*exe, "serve", SERVICE_TARGET, "--host", host, "--port", str(port),
            "--working-dir", str(APP_ROOT)]
