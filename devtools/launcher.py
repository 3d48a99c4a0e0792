"""Start a real ``bentoml serve`` of the sentiment service in a subprocess, for tests and tools.

    with ServiceProcess({"SENTIMENT_MAX_BATCH_SIZE": "32"}) as svc:
        httpx.post(f"{svc.url}/predict", json={"text": "great"})

The server binds a free 127.0.0.1 port, is waited on until ``/readyz`` answers 200 (bounded),
and is stopped with SIGTERM, then SIGKILL after a grace period. If it exits or never gets
ready, :class:`ServiceStartError` carries the tail of its output. ``running(procs)`` starts
several servers together (their start-ups overlap) and stops them all at the end. Output goes to a log file
(``.log_path``), never to a pipe that could fill up and stall the server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from devtools.proc import descendants
from service.launch import APP_ROOT, bentoml_command


class ServiceStartError(RuntimeError):
    """The server exited or did not become ready in time."""


_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free on ``host`` a moment ago, never the same one twice per process."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """Status code of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


class ServiceProcess:
    """Context manager around one ``bentoml serve`` subprocess on a free loopback port."""

    def __init__(self, env: Mapping[str, str | None] | None = None, *, port: int | None = None,
                 ready_timeout: float = 90.0, grace: float = 10.0,
                 command: list[str] | None = None, log_path: str | Path | None = None) -> None:
        """``env``: SENTIMENT_* overrides; ``port``: fixed port (default: a free one, re-picked
        if another process takes it first); ``command``: run this instead of `bentoml serve`
        (``"{port}"`` in an argument is replaced by the port)."""
        self.host = "127.0.0.1"
        self._auto_port = port is None
        self.port = port or free_port(self.host)
        self.url = f"http://{self.host}:{self.port}"
        self.env_overrides = dict(env or {})
        self.ready_timeout = ready_timeout
        self.grace = grace
        self._command = command  # may hold "{port}" placeholders
        self.command = self._build_command()
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path else Path(
            tempfile.mkstemp(prefix="sentiment-serve-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self._home: str | None = None

    def environment(self) -> dict[str, str]:
        """The child's environment: ours, plus the port and the given SENTIMENT_* overrides."""
        env = dict(os.environ)
        env.update({"SENTIMENT_PORT": str(self.port), "SENTIMENT_HOST": self.host,
                    "BENTOML_DO_NOT_TRACK": "True", "PYTHONUNBUFFERED": "1"})
        if "BENTOML_HOME" not in self.env_overrides:
            # BentoML wipes $BENTOML_HOME/prometheus_multiproc_dir at start-up and reads /metrics
            # from it: servers sharing a home clobber and mix each other's metrics.
            self._home = self._home or tempfile.mkdtemp(prefix="sentiment-bentoml-home-")
            env["BENTOML_HOME"] = self._home
        env.update({k: v for k, v in self.env_overrides.items() if v is not None})
        for name in [k for k, v in self.env_overrides.items() if v is None]:
            env.pop(name, None)  # None: unset
        return env

    def _build_command(self) -> list[str]:
        if self._command is None:
            return bentoml_command(self.port, self.host)
        return [arg.replace("{port}", str(self.port)) for arg in self._command]

    def _repick_port(self) -> None:
        """Move to a new free port (after losing a bind race to another process)."""
        self.port = free_port(self.host)
        self.url = f"http://{self.host}:{self.port}"
        self.command = self._build_command()

    def start(self) -> ServiceProcess:
        """Spawn the server in its own process group (so stop() reaches its workers too)."""
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command, cwd=APP_ROOT, env=self.environment(),
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def output_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's combined stdout/stderr."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    stderr_tail = output_tail

    def wait_ready(self, timeout: float | None = None) -> None:
        """Poll /readyz until 200; raise ServiceStartError if the process exits or times out."""
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        status = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceStartError(f"server exited with code {self.proc.returncode} before "
                                        f"it was ready; output tail:\n{self.output_tail()}")
            status = http_status(f"{self.url}/readyz", timeout=2.0)
            if status == 200:
                return
            time.sleep(0.2)
        raise ServiceStartError(f"server not ready within {timeout or self.ready_timeout:.0f} s "
                                f"(last /readyz answer: {status or 'no answer'}); output tail:\n"
                                f"{self.output_tail()}")

    def stop(self) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``grace`` s; returns the exit code."""
        if self.proc is None:
            return None
        family = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self._signal([], signal.SIGTERM)
            try:
                self.proc.wait(self.grace)
            except subprocess.TimeoutExpired:
                self._signal(family, signal.SIGKILL)
                self.proc.wait(5)
        self._signal(family, signal.SIGKILL)  # workers left behind by a dead arbiter
        if self._home:
            shutil.rmtree(self._home, ignore_errors=True)
        return self.proc.returncode

    def _signal(self, pids: list[int], sig: int) -> None:
        """Signal our process group, plus the given descendants (their own sessions)."""
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def ready(self, timeout: float | None = None) -> ServiceProcess:
        """After start(): wait_ready(), restarting on a fresh port (at most twice) if another
        process took ours between free_port() and the server's bind."""
        for attempt in range(3):
            try:
                self.wait_ready(timeout)
                return self
            except ServiceStartError:
                self.stop()
                lost_race = "address already in use" in self.output_tail(200).lower()
                if not (lost_race and self._auto_port and attempt < 2):
                    raise
                self._repick_port()
                self.start()
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def __enter__(self) -> ServiceProcess:
        return self.start().ready()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._own_log and exc[0] is None:
            self.log_path.unlink(missing_ok=True)


def stop_all(procs: Iterable[ServiceProcess]) -> None:
    """Stop servers in parallel (each stop waits for its process tree to exit)."""
    procs = list(procs)
    with ThreadPoolExecutor(max_workers=max(1, len(procs))) as pool:
        list(pool.map(lambda p: p.stop(), procs))


@contextmanager
def running(procs: Mapping[str, ServiceProcess], timeout: float = 120.0,
            ) -> Iterator[Mapping[str, ServiceProcess]]:
    """Start every server, then wait until each is ready (``ready``: bounded by ``timeout``);
    stop them all on the way out, whatever happened."""
    try:
        for p in procs.values():
            p.start()
        for p in procs.values():
            p.ready(timeout)
        yield procs
    finally:
        stop_all(procs.values())
