"""Request-body validation (no server): every mistake is a SentimentError of a kind that maps to
its status."""

from __future__ import annotations

import pytest

from core.errors import SentimentError
from service.errors import error_body, status_of
from service.schema import Limits, parse_body, texts_from_payload

LIMITS = Limits(max_texts=3, max_chars=10, max_body_bytes=1000)


def test_both_forms_give_texts_in_order():
    assert parse_body(b'{"texts": ["b", "a", "c"]}', LIMITS) == ["b", "a", "c"]
    assert parse_body(b'{"text": "only"}', LIMITS) == ["only"]


@pytest.mark.parametrize("payload,status,field", [
    ({"texts": ["a", "b", "c", "d"]}, 413, "texts"),
    ({"texts": ["a", "x" * 11]}, 413, "texts[1]"),
    ({"texts": ["a", "\t "]}, 422, "texts[1]"),
    ({"texts": [True]}, 422, "texts[0]"),
    ({"texts": {"a": 1}}, 422, "texts"),
    ({"text": ["a"]}, 422, "text"),
    ({"texts": ["a", "b\ud800"]}, 422, "texts[1]"),
])
def test_item_errors_name_the_field(payload, status, field):
    with pytest.raises(SentimentError) as info:
        texts_from_payload(payload, LIMITS)
    assert status_of(info.value) == status
    assert error_body(info.value)["field"] == field


def test_limit_errors_name_the_limit():
    with pytest.raises(SentimentError) as info:
        texts_from_payload({"texts": ["a"] * 4}, LIMITS)
    assert error_body(info.value) | {"error": ""} == {
        "error": "", "status": 413, "kind": "too_large", "field": "texts", "limit": "max_texts",
        "max": 3}


def test_text_at_the_char_limit_is_accepted():
    assert texts_from_payload({"text": "x" * 10}, LIMITS) == ["x" * 10]
