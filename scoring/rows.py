"""Input records and the checks that decide whether one can be scored.

A record that cannot be scored (missing or empty text, non-string value, undecodable bytes) keeps
its line number and a short raw excerpt so the quarantine file can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RAW_EXCERPT = 200


@dataclass(slots=True)
class Row:
    """One input record: 1-based line (row index for Parquet), id, text, or why it is bad."""

    line: int
    rid: Any
    text: str | None
    reason: str | None = None
    raw: str | None = None


def _valid_unicode(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def excerpt(value: str) -> str:
    """A printable, valid-UTF-8 excerpt of a raw record for the quarantine file."""
    clean = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return clean[:RAW_EXCERPT]


def text_problem(value: Any) -> str | None:
    """Why ``value`` cannot be scored as a text, or None if it can."""
    if value is None:
        return "missing text"
    if not isinstance(value, str):
        return f"text is not a string (got {type(value).__name__})"
    if not _valid_unicode(value):
        return "text holds undecodable bytes (not valid UTF-8)"
    if not value.strip():
        return "empty text"
    return None


def id_problem(value: Any) -> str | None:
    """Why ``value`` cannot serve as a row id, or None if it can."""
    if value is None or value == "":
        return "missing id"
    if not isinstance(value, str | int | float | bool):
        return f"id is not a scalar (got {type(value).__name__})"
    if isinstance(value, str) and not _valid_unicode(value):
        return "id holds undecodable bytes (not valid UTF-8)"
    return None


def make_row(line: int, text: Any, rid: Any, id_col: str | None, raw: str) -> Row:
    """A scorable row, or a rejected one carrying the first problem found."""
    reason = text_problem(text) or (id_problem(rid) if id_col else None)
    if reason:
        return Row(line, rid if id_col and not id_problem(rid) else None, None, reason,
                   excerpt(raw))
    return Row(line, rid if id_col else line, text)
