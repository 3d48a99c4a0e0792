"""Crash-safe file publication: write a temp file, fsync it, rename it over the target, fsync the
directory. After a crash a path either holds its complete old content, its complete new content,
or does not exist; never a partial file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def fsync_dir(path: Path) -> None:
    """Make a rename/unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    """The temp file used while writing ``path`` (same directory, so rename is atomic)."""
    return path.with_name(f".{path.name}.tmp")


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(fh)`` on a temp file, then publish it at ``path`` atomically and durably."""
    tmp = temp_name(path)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Publish ``data`` at ``path`` atomically."""
    def write(fh: BinaryIO) -> None:
        fh.write(data)

    atomic_write(path, write)
