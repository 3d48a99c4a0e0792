"""A tiny raw HTTP/1.1 client on asyncio streams, for requests no polite client will send.

httpx normalises headers, encodes bodies and always frames them; the reliability tests need the
opposite: invalid UTF-8, chunked bodies without Content-Length, lying headers, one fresh
connection per request (open-loop load, shutdown). Every call is bounded by ``timeout``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Reply:
    """One response (or the failure to get one: ``status`` 0 and ``error`` set)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    ms: float = 0.0
    error: str = ""

    def json(self) -> object:
        return json.loads(self.body)

    def is_json_error(self) -> bool:
        """A JSON object body with an ``error`` (or BentoML ``detail``) message."""
        try:
            body = self.json()
        except ValueError:
            return False
        return isinstance(body, dict) and bool(body.get("error") or body.get("detail"))


def build_request(method: str, path: str, host: str, headers: Iterable[tuple[str, str]] = (),
                  body: bytes | None = None, chunks: list[bytes] | None = None) -> bytes:
    """The raw bytes of one request; ``chunks`` sends a chunked body with no Content-Length."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    if chunks is not None:
        lines.append("Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
    else:
        payload = body or b""
        if body is not None and not any(k.lower() == "content-length" for k, _ in headers):
            lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


async def _read_reply(reader: asyncio.StreamReader) -> Reply:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.read()
    return Reply(int(status_line.split()[1]), headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = []
    while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
        out.append(await reader.readexactly(size))
        await reader.readline()
    await reader.readline()
    return b"".join(out)


async def send_raw(host: str, port: int, raw: bytes | list[bytes], timeout: float = 30.0,
                   gap_s: float = 0.0) -> Reply:
    """Send raw request bytes (a list is written piece by piece, ``gap_s`` apart) and read one
    reply on a fresh connection. Never raises: failures come back as status 0 with ``error``."""
    t0 = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            for piece in raw if isinstance(raw, list) else [raw]:
                writer.write(piece)
                await writer.drain()
                if gap_s:
                    await asyncio.sleep(gap_s)
            reply = await _read_reply(reader)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
            TimeoutError) as exc:
        reply = Reply(0, error=f"{type(exc).__name__}: {exc}")
    finally:
        if writer is not None:
            writer.close()
    reply.ms = (time.perf_counter() - t0) * 1000
    return reply


async def request(url_host: str, port: int, method: str, path: str,
                  headers: Iterable[tuple[str, str]] = (), body: bytes | None = None,
                  chunks: list[bytes] | None = None, timeout: float = 30.0) -> Reply:
    """Build and send one request on a fresh connection."""
    raw = build_request(method, path, f"{url_host}:{port}", headers, body, chunks)
    return await send_raw(url_host, port, raw, timeout)


def request_sync(host: str, port: int, method: str, path: str, **kw: object) -> Reply:
    """:func:`request` from synchronous test code."""
    return asyncio.run(request(host, port, method, path, **kw))  # type: ignore[arg-type]
