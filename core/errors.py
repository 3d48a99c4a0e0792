"""The one error type of the product: a kind from a closed set, a message, optional details.

The runtime, the batcher and request validation raise :class:`SentimentError`; the HTTP layer
maps each :class:`ErrorKind` to a status code in one place (``service.errors``) and the CLI
prints the message as one line.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """What went wrong, independent of the transport."""

    MALFORMED = "malformed"  # the body is not JSON / not UTF-8
    INVALID = "invalid"  # well-formed, but not a valid request
    TOO_LARGE = "too_large"  # a limit (texts, characters, bytes) is exceeded
    UNSUPPORTED_MEDIA = "unsupported_media_type"  # a body that is not JSON
    UNAUTHORIZED = "unauthorized"  # missing or wrong API key
    TOO_BUSY = "too_busy"  # the concurrency cap is full
    OVERLOADED = "overloaded"  # the queue would pass its latency budget: shed
    TIMED_OUT = "timed_out"  # not answered within the timeout
    INTERNAL = "internal"  # a bug or a broken model: see the server log


class SentimentError(Exception):
    """An error of ``kind`` with a human-readable ``message``.

    ``retry_after`` (seconds) tells a client when trying again makes sense; ``detail`` holds
    machine-readable context (the offending field, the limit) that is sent with the message.
    """

    def __init__(self, kind: ErrorKind, message: str, *, retry_after: int | None = None,
                 **detail: Any) -> None:
        super().__init__(message)
        self.kind, self.message, self.retry_after, self.detail = kind, message, retry_after, detail

    def __repr__(self) -> str:
        return f"SentimentError({self.kind.value}, {self.message!r})"
