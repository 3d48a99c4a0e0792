"""The three servers of the service-level benchmark, started together on free loopback ports.

``service`` (our BentoML app), ``bare`` (bench.bare_server, as many processes and threads as
the service) and ``nobatch_plain`` (BentoML without batching on the plain export).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.launcher import ServiceProcess, free_port, stop_all
from service.launch import bentoml_command

log = logging.getLogger(__name__)


def service_settings(env: dict[str, str]):
    """The settings our service runs with under ``env`` overrides (workers, threads)."""
    from service.settings import Settings

    saved = dict(os.environ)
    try:
        os.environ.update(env)
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def bare_process(bundle: Path, threads: int = 1, workers: int = 1) -> ServiceProcess:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.bare_server", "--model-dir", str(bundle), "--port",
           str(port), "--threads", str(threads), "--workers", str(workers)]
    return ServiceProcess(port=port, command=cmd)


def bentoml_process(bundle: Path, env: dict[str, str], target: str | None = None) -> ServiceProcess:
    port = free_port()
    cmd = bentoml_command(port)
    if target:
        cmd[cmd.index("service.app:SentimentService")] = target
    return ServiceProcess({**env, "SENTIMENT_MODEL_DIR": str(bundle)}, port=port, command=cmd)


def nobatch_process(plain: Path, env: dict[str, str]) -> ServiceProcess:
    """The service with batching off if it has such a setting, else bench.nobatch_service."""
    from service.settings import Settings

    if "batching" in Settings.model_fields:
        return bentoml_process(plain, {**env, "SENTIMENT_BATCHING": "false"})
    from bench.nobatch_service import TARGET

    return bentoml_process(plain, env, TARGET)


@contextmanager
def running_targets(bundle: Path, plain: Path | Callable[[], Path], service_env: dict[str, str],
                    while_starting: Callable[[], object] | None = None) -> Iterator[dict]:
    """Start the three servers together, wait until each is ready, stop them all at the end.

    ``plain`` may be a callable that builds the plain bundle (a cache miss costs a TensorFlow
    import and a tf2onnx conversion): it then runs while the other two servers start.
    ``while_starting`` runs after all three are spawned and before waiting for them: set-up
    work (e.g. the model level's TensorFlow import) that then overlaps their start-up.
    """
    ours = service_settings(service_env)  # the bare server gets as many processes/threads
    procs = {"service": bentoml_process(bundle, service_env),
             "bare": bare_process(bundle, ours.ort_threads, ours.workers)}
    start = time.monotonic()
    try:
        for p in procs.values():
            p.start()
        plain_path = plain() if callable(plain) else plain
        procs["nobatch_plain"] = nobatch_process(plain_path, service_env).start()
        if while_starting:
            while_starting()
        for name, p in procs.items():
            p.ready()  # also re-picks the port if another process took it first
            log.info("%s server ready after %.1f s", name, time.monotonic() - start)
        yield procs
    finally:
        stop_all(list(procs.values()))
