"""The three servers of the service-level benchmark, started together on free loopback ports.

``service`` (our BentoML app), ``bare`` (bench.bare_server, as many processes and threads as
the service) and ``nobatch_plain`` (BentoML without batching on the plain export).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from service.launcher import ServiceProcess, bentoml_command, free_port


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
def running_targets(bundle: Path, plain: Path, service_env: dict[str, str]) -> Iterator[dict]:
    """Start the three servers together, wait until each is ready, stop them all at the end."""
    ours = service_settings(service_env)  # the bare server gets as many processes/threads
    procs = {"service": bentoml_process(bundle, service_env),
             "bare": bare_process(bundle, ours.ort_threads, ours.workers),
             "nobatch_plain": nobatch_process(plain, service_env)}
    with ExitStack() as stack:
        for p in procs.values():
            stack.callback(p.stop)
            p.start()
        for p in procs.values():
            p.wait_ready()
        yield procs
