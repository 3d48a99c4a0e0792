"""Malformed requests: every kind gets a 4xx with a JSON error, never a 5xx; pickle never runs."""

from __future__ import annotations

import asyncio
import json
import pickle
from pathlib import Path

import pytest
from reliability_figures import record
from reliability_http import Reply, request, send_raw

pytestmark = [pytest.mark.slow, pytest.mark.integration]
JSON = [("Content-Type", "application/json")]
LONG = "x" * 501  # main server: max_chars 500, max_texts 16, body 16384 bytes


class Canary:
    """Unpickling this opens (creates) the canary file: proof that pickle.loads ran."""

    path = ""

    def __reduce__(self) -> tuple:
        return (open, (self.path, "w"))


def pickle_payload(canary: Path) -> bytes:
    c = Canary()
    c.path = str(canary)
    return pickle.dumps({"texts": [c]})


# (kind, method, path, content type or None, body bytes or None)
BODY_CASES: list[tuple[str, str, str, str | None, bytes | None]] = [
    ("non-JSON text", "POST", "/predict", "application/json", b"hello there"),
    ("truncated JSON", "POST", "/predict", "application/json", b'{"texts": ["a", "b"'),
    ("deeply nested arrays", "POST", "/predict", "application/json", b"[" * 6000 + b"]" * 6000),
    ("deeply nested objects", "POST", "/predict", "application/json",
     b'{"text":' * 1500 + b'"a"' + b"}" * 1500),
    ("huge float", "POST", "/predict", "application/json", b'{"text": 1e999999}'),
    ("huge integer (5000 digits)", "POST", "/predict", "application/json",
     b'{"text": 1' + b"0" * 5000 + b"}"),
    ("NaN literal", "POST", "/predict", "application/json", b'{"text": NaN}'),
    ("texts is a string", "POST", "/predict", "application/json", b'{"texts": "abc"}'),
    ("texts of numbers", "POST", "/predict", "application/json", b'{"texts": [1, 2]}'),
    ("text is an object", "POST", "/predict", "application/json", b'{"text": {"a": 1}}'),
    ("text is a boolean", "POST", "/predict", "application/json", b'{"text": true}'),
    ("nested list of texts", "POST", "/predict", "application/json", b'{"texts": [["a"]]}'),
    ("missing fields", "POST", "/predict", "application/json", b"{}"),
    ("null text", "POST", "/predict", "application/json", b'{"text": null}'),
    ("null texts", "POST", "/predict", "application/json", b'{"texts": null}'),
    ("null in texts", "POST", "/predict", "application/json", b'{"texts": ["ok", null]}'),
    ("top-level null", "POST", "/predict", "application/json", b"null"),
    ("top-level array", "POST", "/predict", "application/json", b'["a great film"]'),
    ("top-level string", "POST", "/predict", "application/json", b'"a great film"'),
    ("empty list", "POST", "/predict", "application/json", b'{"texts": []}'),
    ('empty string ""', "POST", "/predict", "application/json", b'{"text": ""}'),
    ("whitespace-only text", "POST", "/predict", "application/json", b'{"text": " \\t\\n\\u3000 "}'),
    ("unknown field", "POST", "/predict", "application/json", b'{"text": "a", "extra": 1}'),
    ("both text and texts", "POST", "/predict", "application/json",
     b'{"text": "a", "texts": ["b"]}'),
    ("escaped lone surrogate", "POST", "/predict", "application/json", b'{"text": "a \\ud800 b"}'),
    ("lone low surrogate in list", "POST", "/predict", "application/json",
     b'{"texts": ["fine", "\\udfff"]}'),
    ("surrogate as UTF-8 bytes", "POST", "/predict", "application/json",
     b'{"text": "a \xed\xa0\x80 b"}'),
    ("raw NUL byte in string", "POST", "/predict", "application/json", b'{"text": "a\x00b"}'),
    ("raw control char in string", "POST", "/predict", "application/json", b'{"text": "a\x01\x1fb"}'),
    ("raw NUL outside strings", "POST", "/predict", "application/json", b'{"text":\x00 "a"}'),
    ("UTF-8 BOM", "POST", "/predict", "application/json", b'\xef\xbb\xbf{"text": "a film"}'),
    ("UTF-16 body", "POST", "/predict", "application/json", '{"text": "a film"}'.encode("utf-16")),
    ("invalid UTF-8 bytes", "POST", "/predict", "application/json", b'{"text": "caf\xe9 \xff"}'),
    ("latin-1 charset declared", "POST", "/predict", "application/json; charset=latin-1",
     '{"text": "café"}'.encode("latin-1")),
    ("empty body", "POST", "/predict", "application/json", b""),
    ("whitespace body", "POST", "/predict", "application/json", b" \r\n\t "),
    ("too many texts", "POST", "/predict", "application/json",
     json.dumps({"texts": ["a"] * 17}).encode()),
    ("text over max_chars", "POST", "/predict", "application/json",
     json.dumps({"text": LONG}).encode()),
    ("form-encoded", "POST", "/predict", "application/x-www-form-urlencoded", b"text=great+film"),
    ("multipart", "POST", "/predict", "multipart/form-data; boundary=XyZ",
     b'--XyZ\r\nContent-Disposition: form-data; name="text"\r\n\r\ngreat\r\n--XyZ--\r\n'),
    ("text/plain", "POST", "/predict", "text/plain", b"great film"),
    ("json-like media type", "POST", "/predict", "application/json-patch+json", b'{"text": "a"}'),
    ("no content type, bad body", "POST", "/predict", None, b"text=a"),
    ("wrong method GET", "GET", "/predict", None, None),
    ("wrong method PUT", "PUT", "/predict", "application/json", b'{"text": "a"}'),
    ("wrong method DELETE", "DELETE", "/predict", None, None),
    ("wrong method PATCH on /model", "PATCH", "/model", "application/json", b"{}"),
    ("POST to /livez", "POST", "/livez", "application/json", b"{}"),
    ("unknown route GET", "GET", "/no-such-route", None, None),
    ("unknown route POST", "POST", "/v1/predict", "application/json", b'{"text": "a"}'),
    ("path traversal", "GET", "/../../etc/passwd", None, None),
]

PICKLE_TYPES = ["application/vnd.bentoml+pickle", "APPLICATION/VND.BENTOML+PICKLE",
                "application/vnd.bentoml+pickle; charset=binary", "application/octet-stream",
                "application/python-pickle"]


async def _send_all(port: int, auth: list, cases: list) -> list[Reply]:
    out = []
    for _, method, path, ctype, body in cases:  # sequential: a crash is attributed to its case
        headers = list(auth) + ([("Content-Type", ctype)] if ctype else [])
        out.append(await request("127.0.0.1", port, method, path, headers, body, timeout=20))
    return out


def assert_json_4xx(kind: str, reply: Reply) -> None:
    assert 400 <= reply.status < 500, f"{kind}: got {reply.status} {reply.error} {reply.body[:200]!r}"
    assert reply.headers.get("content-type", "").startswith("application/json"), \
        f"{kind}: {reply.status} with content-type {reply.headers.get('content-type')!r}: " \
        f"{reply.body[:120]!r}"
    assert reply.is_json_error(), f"{kind}: {reply.body[:200]!r}"


def test_malformed_requests_get_json_4xx(main_server, auth, tmp_path):
    canary = tmp_path / "canary-pickle-ran"
    payload = pickle_payload(canary)
    cases = list(BODY_CASES)
    cases += [(f"pickle as {t}", "POST", "/predict", t, payload) for t in PICKLE_TYPES]
    cases += [("pickle as JSON", "POST", "/predict", "application/json", payload),
              ("pickle to /model", "POST", "/model", PICKLE_TYPES[0], payload)]
    replies = asyncio.run(_send_all(main_server.port, auth, cases))
    failures = []
    for (kind, *_), reply in zip(cases, replies, strict=True):
        try:
            assert_json_4xx(kind, reply)
        except AssertionError as exc:
            failures.append(str(exc))
    statuses = [r.status for r in replies]
    live = asyncio.run(request("127.0.0.1", main_server.port, "GET", "/livez", timeout=5))
    record("malformed requests", kinds=len(cases), rejected_4xx=sum(400 <= s < 500 for s in statuses),
           server_errors=sum(s >= 500 for s in statuses), no_reply=statuses.count(0),
           canary_created=canary.exists(), livez_after=live.status, passed=not failures)
    assert not failures, "\n".join(failures)
    assert not canary.exists(), "a pickle payload was executed"
    assert live.status == 200


PROTOCOL_CASES = [
    ("bad request line", b"GARBAGE\r\n\r\n"),
    ("non-numeric Content-Length", b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ("negative Content-Length", b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
    ("header without colon", b"GET /livez HTTP/1.1\r\nHost: x\r\nbroken header\r\n\r\n"),
    ("bad chunk size", b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
    ("request line with no version", b"POST /predict\r\nHost: x\r\n\r\n"),
]


def test_protocol_garbage_is_refused_without_5xx(main_server):
    """Broken HTTP framing is refused by the HTTP parser itself: 4xx or a closed connection."""
    replies = [asyncio.run(send_raw("127.0.0.1", main_server.port, raw, timeout=10))
               for _, raw in PROTOCOL_CASES]
    bad = [(k, r.status, r.error) for (k, _), r in zip(PROTOCOL_CASES, replies, strict=True)
           if not (400 <= r.status < 500 or (r.status == 0 and "Timeout" not in r.error))]
    record("protocol garbage", kinds=len(PROTOCOL_CASES),
           statuses=sorted({r.status for r in replies}), passed=not bad)
    assert not bad
    assert asyncio.run(request("127.0.0.1", main_server.port, "GET", "/livez")).status == 200


@pytest.mark.parametrize("megabytes", [8, 64])
def test_oversized_body_of_any_size_gets_a_json_413(main_server, auth, megabytes):
    """A body far over max_body_bytes, declared (Content-Length) or streamed in chunks: the
    client reads a JSON 413, never a connection reset."""
    body = b'{"texts": ["' + b"a" * (megabytes << 20) + b'"]}'
    chunks = [body[i:i + (1 << 20)] for i in range(0, len(body), 1 << 20)]
    headers = [*auth, ("Content-Type", "application/json")]
    replies = [asyncio.run(request("127.0.0.1", main_server.port, "POST", "/predict", headers,
                                   body, timeout=60)),
               asyncio.run(request("127.0.0.1", main_server.port, "POST", "/predict", headers,
                                   chunks=chunks, timeout=60))]
    record(f"oversized body ({megabytes} MB)", statuses=[r.status for r in replies],
           errors=[r.error for r in replies], passed=all(r.status == 413 for r in replies))
    for reply in replies:
        assert_json_4xx(f"{megabytes} MB body", reply)
        assert reply.status == 413 and json.loads(reply.body)["kind"] == "too_large"
