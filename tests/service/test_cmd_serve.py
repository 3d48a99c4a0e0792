"""`sentiment serve` refuses a bad bundle, a bad setting or a port in use with one line and exit
code 2."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

SENTIMENT = str(Path(sys.executable).with_name("sentiment"))


def test_serve_help_lists_settings():
    out = subprocess.run([SENTIMENT, "serve", "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "SENTIMENT_MAX_BATCH_SIZE" in out.stdout


def test_serve_rejects_tampered_bundle(default_bundle, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(default_bundle, bad)
    (bad / "tokenizer.json").write_text("{}")
    out = subprocess.run([SENTIMENT, "serve", "--model", str(bad)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "sha256" in out.stderr


def test_serve_rejects_bad_setting(tmp_path):
    out = subprocess.run([SENTIMENT, "serve", "--max-batch-size", "1"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "max_batch_size" in out.stderr


def test_serve_refuses_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([SENTIMENT, "serve", "--port", str(port)], capture_output=True,
                             text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert f"127.0.0.1:{port}" in out.stderr and "in use" in out.stderr
