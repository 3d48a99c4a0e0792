"""Graceful shutdown that refuses new connections at once instead of resetting them later.

BentoML's parent process (circus) keeps the listening socket open until every worker has
exited, so during the grace period new connections were accepted by the kernel into the
backlog, never served, and reset when the parent finally closed it. On SIGTERM each worker now
shuts its listening socket down for reading first (on Linux a listening TCP socket then leaves
the LISTEN state for every process sharing it), so new connections are refused, then hands over
to uvicorn's own handler, which finishes the requests already accepted.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

log = logging.getLogger("bentoml.sentiment")


def listening_sockets() -> list[socket.socket]:
    """This process's listening TCP sockets (duplicated fds, so closing them is harmless)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue  # not a socket (or already gone)
        try:
            if (sock.type == socket.SOCK_STREAM and sock.family in (socket.AF_INET, socket.AF_INET6)
                    and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)):
                found.append(sock)
                continue
        except OSError:
            pass
        sock.close()
    return found


def stop_listening(sockets: list[socket.socket]) -> None:
    """Take the sockets out of LISTEN: queued and new connection attempts are refused."""
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RD)
        except OSError as exc:  # already shut down by another worker
            log.debug("listening socket shutdown: %s", exc)


def refuse_new_connections_on_sigterm() -> bool:
    """Chain a SIGTERM handler in front of uvicorn's; False if there is nothing to chain."""
    sockets = listening_sockets()
    previous = signal.getsignal(signal.SIGTERM)
    if not sockets or not callable(previous):
        return False

    def on_sigterm(signum: int, frame: Any, _prev: Callable[..., Any] = previous) -> None:
        stop_listening(sockets)
        log.info("SIGTERM: listening socket shut down, new connections are refused; "
                 "finishing the requests already accepted")
        _prev(signum, frame)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread: leave uvicorn's handler alone
        return False
    return True
