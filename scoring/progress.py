"""Progress display: a tqdm bar (rows, rows/s, ETA) on a terminal, nothing otherwise.

For CSV/JSONL the row total is unknown up front, so it is estimated from the bytes read so far
(rows done x file size / bytes read) and refined as the job goes; Parquet knows its row count.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _terminal_size() -> tuple[int, int]:
    try:
        return tuple(os.get_terminal_size(sys.stderr.fileno()))
    except (OSError, ValueError):
        return (0, 0)


class Progress:
    """Row counter with an optional tqdm bar on stderr."""

    def __init__(self, enabled: bool, total_bytes: int, total_rows: int | None = None,
                 done: int = 0) -> None:
        self.total_bytes, self.total_rows, self.done = total_bytes, total_rows, done
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            sized = min(_terminal_size()) > 0  # a bare pseudo-terminal may report 0x0
            self.bar = tqdm(total=total_rows, initial=done, unit="rows", unit_scale=True,
                            file=sys.stderr, dynamic_ncols=sized, ncols=None if sized else 100,
                            nrows=None if sized else 24, smoothing=0.1)

    @staticmethod
    def wanted(quiet: bool) -> bool:
        """Show a bar only on an interactive terminal and when not asked to be quiet."""
        return not quiet and sys.stderr.isatty()

    def update(self, rows: int, bytes_read: int) -> None:
        """Count ``rows`` more rows; re-estimate the total from the share of bytes read."""
        self.done += rows
        if self.bar is None:
            return
        if self.total_rows is None and bytes_read > 0:
            share = min(1.0, bytes_read / max(1, self.total_bytes))
            self.bar.total = max(self.done, round(self.done / share))
        self.bar.update(rows)

    def close(self) -> None:
        """Fix the final total and close the bar."""
        if self.bar is not None:
            if self.total_rows is None:
                self.bar.total = self.done
                self.bar.refresh()
            self.bar.close()
