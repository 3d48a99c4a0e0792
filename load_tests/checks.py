"""Guards shared by the runner and the locustfile (kept free of Locust so tests can import it):
where load may go, and what counts as a good /predict answer."""

from __future__ import annotations

import ipaddress
import json
import urllib.parse


def require_loopback(url: str) -> str:
    """Return the URL without a trailing slash, or raise if it is not http(s) on loopback."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"--host {url!r} must look like http://127.0.0.1:PORT")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ValueError(f"refusing to load {host!r}: load tests only target loopback "
                         "(127.0.0.0/8, ::1, localhost)")
    return url.rstrip("/")


def check_predict(status: int, body: bytes | None, n_texts: int,
                  labels: set[str] | frozenset[str] = frozenset()) -> str | None:
    """Return why a /predict response is bad, or None when it is a good answer."""
    if status != 200:
        return f"HTTP {status}: {(body or b'')[:160].decode('utf-8', 'replace')}"
    try:
        data = json.loads(body or b"")
    except ValueError:
        return "response is not JSON"
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or len(results) != n_texts:
        got = len(results) if isinstance(results, list) else "no"
        return f"expected {n_texts} results, got {got}"
    for res in results:
        if not isinstance(res, dict):
            return "result is not an object"
        label, score = res.get("label"), res.get("score")
        if not isinstance(label, str) or (labels and label not in labels):
            return f"bad label {label!r}"
        if not isinstance(score, int | float) or not 0.0 <= score <= 1.0:
            return f"bad score {score!r}"
    return None
