"""The /predict request contract: parsing and validation of the JSON body, and the error type.

Validation runs in the ASGI gate (service.middleware) so that every client mistake gets a JSON
``{"error": ...}`` body with the right 4xx status (BentoML's own error path would wrap 4xx
bodies in a list and turn unexpected exceptions into 500s).
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-request limits (see service.settings for the defaults)."""

    max_texts: int = 64
    max_chars: int = 5000
    max_body_bytes: int = 1_000_000


class RequestError(Exception):
    """A client mistake: HTTP ``status`` with a JSON body ``{"error": message, **extra}``."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def body(self) -> dict:
        return {"error": self.message, **self.extra}


SHAPE = 'expected a JSON object {"texts": ["...", ...]} or {"text": "..."}'


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


def _check_text(text: object, field: str, limits: Limits) -> str:
    if not isinstance(text, str):
        raise RequestError(422, f"{field} must be a string, got {_type_name(text)}", field=field)
    if len(text) > limits.max_chars:
        raise RequestError(413, f"{field} has {len(text)} characters; the limit is "
                           f"{limits.max_chars}", field=field, limit="max_chars",
                           max=limits.max_chars)
    if not text.strip():
        raise RequestError(422, f"{field} is empty or whitespace-only: there is nothing to "
                           "score", field=field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800": not a real character
        raise RequestError(422, f"{field} contains a lone surrogate (invalid Unicode)",
                           field=field) from None
    return text


def texts_from_payload(payload: object, limits: Limits) -> list[str]:
    """The texts of a decoded request body, in order; raises RequestError on any mistake."""
    if not isinstance(payload, dict):
        raise RequestError(422, f"{SHAPE}; got {_type_name(payload)}")
    unknown = sorted(set(payload) - {"texts", "text"})
    if unknown:
        raise RequestError(422, f"unknown field(s) {', '.join(unknown)}; {SHAPE}")
    if ("texts" in payload) == ("text" in payload):
        raise RequestError(422, f"give exactly one of 'texts' and 'text'; {SHAPE}")
    if "text" in payload:
        return [_check_text(payload["text"], "text", limits)]
    texts = payload["texts"]
    if not isinstance(texts, list):
        raise RequestError(422, f"texts must be an array of strings, got {_type_name(texts)}",
                           field="texts")
    if not texts:
        raise RequestError(422, "texts is empty: give 1 or more texts", field="texts")
    if len(texts) > limits.max_texts:
        raise RequestError(413, f"{len(texts)} texts in one request; the limit is "
                           f"{limits.max_texts}", field="texts", limit="max_texts",
                           max=limits.max_texts)
    return [_check_text(t, f"texts[{i}]", limits) for i, t in enumerate(texts)]


def parse_body(body: bytes, limits: Limits) -> list[str]:
    """Decode a UTF-8 JSON request body and validate it (RequestError on any mistake)."""
    if not body.strip():
        raise RequestError(400, f"empty request body; {SHAPE}")
    try:  # strict UTF-8 (RFC 8259): no BOM, no UTF-16/32 guessing, no encoded surrogates
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError(400, "request body is not valid UTF-8") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or int over the digit limit
        raise RequestError(400, f"invalid JSON: {exc}") from None
    return texts_from_payload(payload, limits)
