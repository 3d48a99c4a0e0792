"""Process trees with psutil: descendants, liveness and CPU seconds of a server and its workers
(BentoML's workers run in sessions of their own, so a process group is not enough)."""

from __future__ import annotations

import psutil


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all its live descendants; [] if it is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``."""
    return [p.pid for p in process_tree(pid)[1:]]


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.Error:
        return False


def tree_cpu_seconds(pid: int | None) -> float:
    """user+system CPU seconds of ``pid`` and its live descendants; 0 if unknown."""
    total = 0.0
    for proc in process_tree(pid) if pid is not None else []:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total
