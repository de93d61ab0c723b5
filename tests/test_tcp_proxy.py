"""tests/support/tcp_proxy.py: forwards, cuts, restores and closes, against a real echo server."""

import socket
import socketserver
import threading

import pytest

from tests.support.tcp_proxy import TcpProxy


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(1024):
            self.request.sendall(data)


@pytest.fixture
def echo_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address
    server.shutdown()
    server.server_close()


def connect(proxy: TcpProxy) -> socket.socket:
    return socket.create_connection((proxy.host, proxy.port), timeout=2)


def echoes(sock: socket.socket, data: bytes = b"ping") -> bool:
    try:
        sock.sendall(data)
        return sock.recv(1024) == data
    except OSError:
        return False


def test_forwards_cuts_and_restores(echo_server, tcp_proxy):
    proxy = tcp_proxy(*echo_server)
    before = connect(proxy)
    assert echoes(before) and proxy.open_connections == 1

    proxy.cut()
    assert proxy.is_cut and proxy.open_connections == 0
    assert not echoes(before)  # the open connection was dropped under the client
    during = connect(proxy)  # accepted by the kernel, then closed by the proxy
    assert not echoes(during)

    proxy.restore()
    after = connect(proxy)
    assert echoes(after) and echoes(after, b"again")
    for sock in (before, during, after):
        sock.close()


def test_close_stops_listening(echo_server):
    with TcpProxy(*echo_server) as proxy:
        sock = connect(proxy)
        assert echoes(sock)
    assert not echoes(sock)
    with pytest.raises(OSError):
        connect(proxy)
    sock.close()


def test_a_target_that_is_down_looks_down_through_the_proxy(tcp_proxy):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    proxy = tcp_proxy("127.0.0.1", port)
    sock = connect(proxy)
    assert not echoes(sock)
    sock.close()


def test_the_proxy_closes_itself_when_its_lifetime_runs_out(echo_server):
    proxy = TcpProxy(*echo_server, lifetime=0.2).start()
    sock = connect(proxy)
    assert echoes(sock)
    proxy._threads[0].join(timeout=2)  # the accept loop ends at the deadline
    assert not echoes(sock)
    with pytest.raises(OSError):
        connect(proxy)
    sock.close()
