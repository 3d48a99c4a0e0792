"""Real servers and a real browser for the page tests: `sentiment serve` subprocesses and
Debian's headless Chromium driven by Playwright (no browser download).

Without chromium or Playwright the tests are skipped with the reason, except in CI (``$CI``
set), where that is a failure: .ci/run installs both.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.launcher import ServiceProcess, running

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
API_KEY = "browser-test-key-0123"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# a generous bound for a busy machine: nothing here waits this long when things work
WAIT_MS = 30_000


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI: .ci/run installs it)")
    pytest.skip(reason)


def serve_command() -> list[str]:
    exe = Path(sys.executable).with_name("sentiment")
    return [str(exe), "serve", "--port", "{port}", "--workers", "1", "--no-access-log",
            "--max-latency-ms", "60000"]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        _missing("Debian's chromium is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed (pip install -c constraints.txt playwright)")
    assert path is not None
    return path


@pytest.fixture(scope="module")  # closed before other modules' asyncio tests
def page_servers(chromium_path: str) -> Iterator[dict[str, ServiceProcess]]:
    """An open server and one with an API key, started together."""
    procs = {"open": ServiceProcess({}, command=serve_command()),
             "auth": ServiceProcess({"SENTIMENT_API_KEY": API_KEY}, command=serve_command())}
    with running(procs, 120):
        yield procs


@pytest.fixture(scope="module")  # closed before other modules' asyncio tests
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page_errors(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page (1280 x 900) and the console errors and page exceptions it collects."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    yield page, errors
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
