"""Shared real servers for the reliability suite, and the figures table printed at the end.

Three `bentoml serve` processes are started together on first use (their ~15-20 s start-ups
overlap) and reused by every module; tests that must kill or restart a server start their own.

- ``main``: API key on, small limits (so limit tests send little data).
- ``tight``: 1 s request timeout, 3 concurrent requests at most, requests of up to 8192 texts
  (the timeout tests size their slow requests to the machine), one worker (so the cap is exact).
- ``loaded``: concurrency cap and batching latency budget, for the open-loop overload test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability_figures import FIGURES, write_summary

from devtools.launcher import ServiceProcess, running

API_KEY = "reliability-key-7f3a9c"
MAIN_LIMITS = {"SENTIMENT_MAX_TEXTS": "16", "SENTIMENT_MAX_CHARS": "500",
               "SENTIMENT_MAX_BODY_BYTES": "16384"}
QUIET = {"SENTIMENT_ACCESS_LOG": "false"}
SERVER_ENVS = {
    "main": {**MAIN_LIMITS, **QUIET, "SENTIMENT_API_KEY": API_KEY},
    "tight": {**QUIET, "SENTIMENT_TIMEOUT_S": "1.0", "SENTIMENT_MAX_CONCURRENCY": "3",
              "SENTIMENT_WORKERS": "1",  # the cap is split across workers: 1 makes it exact
              "SENTIMENT_MAX_LATENCY_MS": "600000", "SENTIMENT_MAX_TEXTS": "8192",
              "SENTIMENT_MAX_BATCH_SIZE": "4096", "SENTIMENT_MAX_BODY_BYTES": "4000000"},
    # requests of up to 4096 texts, so the overload test can size them to the machine
    "loaded": {**QUIET, "SENTIMENT_TIMEOUT_S": "2", "SENTIMENT_MAX_CONCURRENCY": "16",
               "SENTIMENT_MAX_LATENCY_MS": "1000", "SENTIMENT_MAX_TEXTS": "4096",
               "SENTIMENT_MAX_BODY_BYTES": "8000000"},
}


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        write_summary(terminalreporter.write_line)


@pytest.fixture(scope="session")
def rel_servers() -> Iterator[dict[str, ServiceProcess]]:
    """All three shared servers, started in parallel, stopped at session end."""
    procs = {name: ServiceProcess(env) for name, env in SERVER_ENVS.items()}
    with running(procs, 180):
        yield procs


@pytest.fixture(scope="session")
def main_server(rel_servers: dict[str, ServiceProcess]) -> ServiceProcess:
    return rel_servers["main"]


@pytest.fixture(scope="session")
def tight_server(rel_servers: dict[str, ServiceProcess]) -> ServiceProcess:
    return rel_servers["tight"]


@pytest.fixture(scope="session")
def loaded_server(rel_servers: dict[str, ServiceProcess]) -> ServiceProcess:
    return rel_servers["loaded"]


@pytest.fixture(scope="session")
def auth() -> list[tuple[str, str]]:
    """Headers every request to the main server needs."""
    return [("Authorization", f"Bearer {API_KEY}")]
