"""Session-scoped real servers for the service tests: started once, in parallel, reused.

- ``server``: `bentoml serve` with auth off and small limits (so limit tests send little data).
- ``cors_server``: one worker with SENTIMENT_CORS_ORIGINS set.
- ``auth_server``: started through `sentiment serve` with SENTIMENT_API_KEY set, no access
  log and a 10 ms batching latency budget.
- ``wide_server``: one worker with the default request limits and no load shedding (requests
  of every size the defaults allow, concurrently).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.launcher import ServiceProcess, running
from devtools.proc import alive, descendants

API_KEY = "test-key-0123456789"
CORS_ORIGIN = "https://app.example"
SMALL_LIMITS = {"SENTIMENT_MAX_TEXTS": "8", "SENTIMENT_MAX_CHARS": "300",
                "SENTIMENT_MAX_BODY_BYTES": "4096"}


def sentiment_serve_command() -> list[str]:
    exe = Path(sys.executable).with_name("sentiment")
    # a 10 ms batching budget makes load shedding (503) easy to provoke in test_overload
    return [str(exe), "serve", "--port", "{port}", "--no-access-log", "--max-latency-ms", "10"]


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, ServiceProcess]]:
    """All servers, spawned together so their start-up overlaps, stopped at session end."""
    procs = {
        "plain": ServiceProcess({**SMALL_LIMITS, "SENTIMENT_MAX_BATCH_SIZE": "32",
                                  # no load-shedding 503s on a busy CI machine
                                  "SENTIMENT_MAX_LATENCY_MS": "60000"}),
        "auth": ServiceProcess({"SENTIMENT_API_KEY": API_KEY},
                               command=sentiment_serve_command()),
        "cors": ServiceProcess({**SMALL_LIMITS, "SENTIMENT_WORKERS": "1",
                                "SENTIMENT_CORS_ORIGINS": CORS_ORIGIN}),
        "wide": ServiceProcess({"SENTIMENT_WORKERS": "1", "SENTIMENT_MAX_LATENCY_MS": "60000"}),
    }
    with running(procs, 120):
        yield procs
        workers = [pid for p in procs.values() for pid in descendants(p.proc.pid)]
    assert workers and not any(map(alive, workers)), "stop() left BentoML workers running"


@pytest.fixture(scope="session")
def api_key() -> str:
    return API_KEY


@pytest.fixture(scope="session")
def server(servers: dict[str, ServiceProcess]) -> ServiceProcess:
    return servers["plain"]


@pytest.fixture(scope="session")
def auth_server(servers: dict[str, ServiceProcess]) -> ServiceProcess:
    return servers["auth"]


@pytest.fixture(scope="session")
def wide_server(servers: dict[str, ServiceProcess]) -> ServiceProcess:
    return servers["wide"]


@pytest.fixture()
def client(server: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def cors_server(servers: dict[str, ServiceProcess]) -> ServiceProcess:
    return servers["cors"]
