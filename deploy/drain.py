"""Graceful-stop check: requests in flight when the container gets SIGTERM must still complete.

Each request is made "in flight" deterministically: its headers and half of its body are sent
before the stop, the rest after SIGTERM was delivered, so the server has already accepted it and
is reading it when shutdown begins. ``docker stop`` (via compose) sends the SIGTERM, as an
orchestrator would.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

from dockerctl import Compose, inspect


def open_partial(port: int, body: bytes, headers: dict[str, str]) -> socket.socket:
    """Connect, send the request head and the first half of the body; return the socket."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = ["POST /predict HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
            "Content-Type: application/json", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[: len(body) // 2])
    return sock


def finish(sock: socket.socket, body: bytes) -> tuple[int, dict | None]:
    """Send the rest of the body and read the response: (status, JSON body or None)."""
    with sock:
        sock.sendall(body[len(body) // 2:])
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        data = resp.read()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, None


def check_drain(compose: Compose, service: str, port: int, texts: list[str], expected: list[str],
                in_flight: int = 4, headers: dict[str, str] | None = None) -> dict:
    """Stop the service with requests in flight; every one must answer 200 with right labels."""
    container = compose.container(service)
    body = json.dumps({"texts": texts}).encode()
    socks = [open_partial(port, body, headers or {}) for _ in range(in_flight)]
    time.sleep(0.5)  # the server has read the heads and waits for the bodies
    stopper = threading.Thread(target=compose.run, args=("stop", "-t", "30", service))
    t0 = time.monotonic()
    stopper.start()
    time.sleep(1.5)  # SIGTERM delivered, shutdown under way
    shutting_down = inspect(container)["State"]["Running"]
    answers = [finish(s, body) for s in socks]
    stopper.join()
    stop_s = time.monotonic() - t0
    state = inspect(container)["State"]
    failures = [(status, out) for status, out in answers
                if status != 200 or out is None
                or [r["label"] for r in out.get("results", [])] != expected]
    if failures:
        raise AssertionError(f"in-flight requests lost on SIGTERM: {failures[:2]}")
    if state["Running"] or state["ExitCode"] != 0:
        raise AssertionError(f"service did not exit cleanly on SIGTERM: {state}")
    return {"in_flight_completed": len(answers), "still_running_1_5s_after_sigterm": shutting_down,
            "stop_seconds": round(stop_s, 2), "exit_code": state["ExitCode"]}
