"""Process helpers for the reliability tests: memory of a server's process group, waiting."""

from __future__ import annotations

import psutil

from devtools.proc import process_tree


def group_rss_mb(pid: int) -> float:
    """Resident memory (MiB) of a process and all its descendants (server + workers)."""
    total = 0
    for p in process_tree(pid):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def worker_pids(pid: int) -> list[int]:
    """Every descendant process of ``pid`` (BentoML workers)."""
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
