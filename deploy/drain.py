"""Graceful-stop check: requests in flight when the container gets SIGTERM must still complete.

Each request is made "in flight" deterministically: its headers and half of its body are sent
before the stop, the rest after SIGTERM was delivered, so the server has already accepted it and
is reading it when shutdown begins. ``docker stop`` (via compose) sends the SIGTERM, as an
orchestrator would.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import subprocess
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


def refuses_new_connections(port: int) -> bool:
    """True when a new request gets no answer (listener closed): shutdown has begun."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return not sock.recv(64)
    except OSError:
        return True


def wait_for_sigterm(container: str, stop: threading.Thread, timeout: float = 60) -> None:
    """Start ``stop`` and return once Docker reports the TERM signal sent to the container."""
    events = subprocess.Popen(["docker", "events", "--filter", f"container={container}",
                               "--filter", "event=kill", "--format", "{{json .Actor.Attributes}}"],
                              stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)  # the event stream is attached before the stop starts
        stop.start()
        ready, _, _ = select.select([events.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"no kill event within {timeout:.0f} s of `stop`")
        signal = json.loads(events.stdout.readline()).get("signal")
        assert signal in ("15", "SIGTERM"), f"stop sent signal {signal}, not SIGTERM"
    finally:
        events.terminate()
        events.wait(10)


def check_drain(compose: Compose, service: str, port: int, texts: list[str], expected: list[str],
                in_flight: int = 4, headers: dict[str, str] | None = None) -> dict:
    """Stop the service with requests in flight; every one must answer 200 with right labels."""
    container = compose.container(service)
    body = json.dumps({"texts": texts}).encode()
    socks = [open_partial(port, body, headers or {}) for _ in range(in_flight)]
    stopper = threading.Thread(target=compose.run, args=("stop", "-t", "30", service))
    wait_for_sigterm(container, stopper)  # the server has had the heads for >= 0.5 s
    t0 = time.monotonic()
    time.sleep(1.0)  # shutdown under way
    draining = inspect(container)["State"]["Running"]
    refused = refuses_new_connections(port)
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
    return {"in_flight_completed": len(answers), "running_1s_after_sigterm": draining,
            "new_connections_refused_while_draining": refused,
            "exit_after_sigterm_s": round(stop_s, 2), "exit_code": state["ExitCode"]}
