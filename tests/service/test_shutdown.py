"""service.shutdown: finding the listening socket and refusing new connections."""

from __future__ import annotations

import socket

import pytest

from service.shutdown import listening_sockets, stop_listening


def test_listening_socket_is_found_and_shutdown_refuses_new_connections():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        found = [s for s in listening_sockets() if s.getsockname()[1] == port]
        assert len(found) == 1
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # still listening
        stop_listening(found)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)
    finally:
        server.close()
        for s in listening_sockets():
            s.close()


def test_connected_sockets_are_not_listening_ones():
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname(), timeout=2)
    peer, _ = server.accept()
    try:
        found = listening_sockets()
        ports = [s.getsockname()[1] for s in found]
        # the accepted socket shares the server's port but is not listening: found once
        assert ports.count(server.getsockname()[1]) == 1
        assert client.getsockname()[1] not in ports
        for s in found:
            s.close()
    finally:
        for s in (client, peer, server):
            s.close()
