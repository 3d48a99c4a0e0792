"""The `sentiment` CLI on bad input: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sentiment_cli.main import main
from tests.conftest import write_csv


@pytest.mark.parametrize("dataset, message", [
    ("imdb", "unknown dataset"),
    ("csv:{tmp}/missing.csv", "no such file"),
    ("csv:{tmp}/one.csv", "class"),
    ("csv:{tmp}/nolabel.csv", "no column 'label'"),
    ("csv:{tmp}/empty.csv", "no rows"),
])
def test_train_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture, dataset: str,
                         message: str) -> None:
    write_csv(tmp_path / "one.csv", [(f"t {i}", "pos") for i in range(30)])
    (tmp_path / "nolabel.csv").write_text("text,y\na,b\n")
    (tmp_path / "empty.csv").write_text("")
    out = tmp_path / "models"
    code = main(["train", "--dataset", dataset.format(tmp=tmp_path), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0] and err[0].startswith("sentiment train")
    assert not out.exists()


def test_bad_options_and_bundle(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--units", "0", "--out", str(tmp_path)]) == 2
    assert "--units must be >= 1" in capsys.readouterr().err
    assert main(["predict", "--model", str(tmp_path / "none"), "hello"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_subprocess_error_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sentiment_cli.main", "verify", "--model",
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_every_command_has_help() -> None:
    import importlib.util

    from sentiment_cli.main import COMMANDS

    for name, (_module, package, _help) in COMMANDS.items():
        assert importlib.util.find_spec(package) is not None, name  # the dev install has all
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0


def test_predict_and_verify(capsys: pytest.CaptureFixture, default_bundle: Path) -> None:
    assert main(["predict", "--model", str(default_bundle), "a wonderful film"]) == 0
    assert '"label": "positive"' in capsys.readouterr().out
    assert main(["verify", "--model", str(default_bundle)]) == 0
    assert '"ok": true' in capsys.readouterr().out
