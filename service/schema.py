"""The request contract of /predict and /explain: JSON body parsing and validation.

Validation runs in the ASGI gate (service.middleware) so that every client mistake gets the
service's JSON error body with the right 4xx status (``service.errors``), naming the field and
the limit; a valid body then goes on to BentoML's router and the typed API, whose pydantic
models (service.models) describe the same contract in the OpenAPI schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.errors import ErrorKind, SentimentError


@dataclass(frozen=True)
class Limits:
    """Per-request limits (see service.settings for the defaults)."""

    max_texts: int = 64
    max_chars: int = 5000
    max_body_bytes: int = 1_000_000


def _invalid(message: str, **detail: Any) -> SentimentError:
    return SentimentError(ErrorKind.INVALID, message, **detail)


def _too_large(message: str, **detail: Any) -> SentimentError:
    return SentimentError(ErrorKind.TOO_LARGE, message, **detail)


def _malformed(message: str) -> SentimentError:
    return SentimentError(ErrorKind.MALFORMED, message)


SHAPE = 'expected a JSON object {"texts": ["...", ...]} or {"text": "..."}'


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def _check_text(text: object, field: str, limits: Limits) -> str:
    if not isinstance(text, str):
        raise _invalid(f"{field} must be a string, got {_type_name(text)}", field=field)
    if len(text) > limits.max_chars:
        raise _too_large(f"{field} has {len(text)} characters; the limit is "
                           f"{limits.max_chars}", field=field, limit="max_chars",
                           max=limits.max_chars)
    if not text.strip():
        raise _invalid(f"{field} is empty or whitespace-only: there is nothing to "
                           "score", field=field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800": not a real character
        raise _invalid(f"{field} contains a lone surrogate (invalid Unicode)",
                           field=field) from None
    return text


def texts_from_payload(payload: object, limits: Limits) -> list[str]:
    """The texts of a decoded request body, in order; raises SentimentError on any mistake."""
    if not isinstance(payload, dict):
        raise _invalid(f"{SHAPE}; got {_type_name(payload)}")
    unknown = sorted(set(payload) - {"texts", "text"})
    if unknown:
        raise _invalid(f"unknown field(s) {', '.join(unknown)}; {SHAPE}")
    if ("texts" in payload) == ("text" in payload):
        raise _invalid(f"give exactly one of 'texts' and 'text'; {SHAPE}")
    if "text" in payload:
        return [_check_text(payload["text"], "text", limits)]
    texts = payload["texts"]
    if not isinstance(texts, list):
        raise _invalid(f"texts must be an array of strings, got {_type_name(texts)}",
                           field="texts")
    if not texts:
        raise _invalid("texts is empty: give 1 or more texts", field="texts")
    if len(texts) > limits.max_texts:
        raise _too_large(f"{len(texts)} texts in one request; the limit is "
                           f"{limits.max_texts}", field="texts", limit="max_texts",
                           max=limits.max_texts)
    return [_check_text(t, f"texts[{i}]", limits) for i, t in enumerate(texts)]


def parse_body(body: bytes, limits: Limits) -> list[str]:
    """Decode a UTF-8 JSON request body and validate it (SentimentError on any mistake)."""
    if not body.strip():
        raise _malformed(f"empty request body; {SHAPE}")
    try:  # strict UTF-8 (RFC 8259): no BOM, no UTF-16/32 guessing, no encoded surrogates
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise _malformed("request body is not valid UTF-8") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or int over the digit limit
        raise _malformed(f"invalid JSON: {exc}") from None
    return texts_from_payload(payload, limits)
