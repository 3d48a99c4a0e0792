"""The progress bar shows on a terminal (rows/s, ETA) and stays off with --quiet."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from scoring_testlib import make_texts, write_text_csv

pytestmark = pytest.mark.slow


def _run_on_tty(argv: list[str], cwd: Path) -> tuple[str, str]:
    """Run with stderr on a pseudo-terminal; returns (stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24x100 chars
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO once the child has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read()
    assert proc.wait(timeout=120) == 0
    os.close(master)
    return out, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_only_on_a_terminal(tmp_path: Path, default_bundle: Path, repo_root: Path,
                                         quiet: bool) -> None:
    inp = write_text_csv(tmp_path / "in.csv", make_texts(600))
    argv = [sys.executable, "-m", "sentiment_cli.main", "score", str(inp),
            str(tmp_path / "out.csv"), "--model", str(default_bundle), "--part-rows", "100"]
    out, terminal = _run_on_tty(argv + (["--quiet"] if quiet else []), repo_root)
    assert json.loads(out)["scored"] == 600
    if quiet:
        assert "rows/s" not in terminal
    else:
        assert "rows/s" in terminal and "600/600" in terminal and "<" in terminal  # rate, ETA
