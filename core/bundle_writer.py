"""Write a model bundle atomically: build in a temporary sibling folder, then rename into place."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.atomic import fsync_dir
from core.bundle import CARD, FORMAT, MODEL, TOKENIZER, sha256_file


def write_bundle(dest: Path, fill: Callable[[Path], dict[str, Any]], force: bool = False) -> Path:
    """Create ``dest`` atomically.

    ``fill(tmpdir)`` writes model.onnx, tokenizer.json and any extra files into ``tmpdir`` and
    returns the card (without ``files``/``version``/``format``, which are added here). If
    anything raises, the temporary folder is removed and ``dest`` is untouched.
    """
    dest = dest.resolve()
    if dest.exists() and not force:
        raise FileExistsError(f"{dest} exists; pass --force to replace it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; bundles are read by other users (containers)
    try:
        card = fill(tmp)
        files: dict[str, dict[str, Any]] = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                 for p in sorted(tmp.iterdir()) if p.is_file()}
        card = {"format": FORMAT, **card, "files": files,
                "version": files[MODEL]["sha256"][:12] + "-" + files[TOKENIZER]["sha256"][:6]}
        (tmp / CARD).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        for p in tmp.iterdir():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
        _swap_into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _swap_into_place(tmp: Path, dest: Path) -> None:
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.rename(dest, old)
    os.rename(tmp, dest)
    fsync_dir(dest.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
