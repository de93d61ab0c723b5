"""The web process holds as many PostgreSQL connections as it has threads, however many requests come.

The web command of `make run` (Procfile.dev) and of production (docker-compose.yml's web
service) run here as written, on pytest-django's test database, with the project's own
settings (persistent connections: DATABASE_CONN_MAX_AGE defaults to 60 s). While a few
hundred API requests come from more clients than the server has threads, the test counts
the server's connections in pg_stat_activity: every one to the test database but its own.
"""

import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.db import connection

from tests.faults.conftest import free_port, subprocess_database_url
from tests.faults.web_server import WebServer, web_environment
from tests.support.commands import compose_command, procfile_command
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

REQUESTS = 300
CLIENTS = 12  # more than any shape's threads: requests wait for a thread, they do not each get one
OUTAGE_REQUESTS = 30
RECOVERY_SECONDS = 5.0


def local_command(argv: list[str], port: int) -> list[str]:
    """`argv` from this virtualenv, serving on 127.0.0.1:`port` instead of the port it names."""
    program = str(Path(sys.executable).parent / Path(argv[0]).name)
    args = [arg.replace("$PORT", str(port)) for arg in argv[1:]]
    if "--bind" in args:  # docker-compose.yml's 0.0.0.0:8000
        args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    return [program, *args]


def option(argv: list[str], name: str, default: int) -> int:
    return int(argv[argv.index(name) + 1]) if name in argv else default


def connection_budget(argv: list[str]) -> int:
    """What the command's configuration allows: a connection per thread of each process."""
    return option(argv, "--workers", 1) * option(argv, "--threads", 1)


# The shapes: (the command as written, CALENDENCE_ENV)
SHAPES = {
    "make run": (lambda: procfile_command("web"), "development"),
    "docker compose": (lambda: compose_command("web"), "production"),
}


@pytest.fixture
def start_web(transactional_db, tmp_path):
    """start(shape, database_url) -> a ready WebServer running that shape's web command."""
    servers = []

    def start(shape: str, url: str) -> WebServer:
        written, calendence_env = SHAPES[shape]
        port = free_port()
        env = web_environment(database_url=url, calendence_env=calendence_env, var_dir=tmp_path / "var")
        servers.append(WebServer(local_command(written(), port), port, env, tmp_path / "web.log"))
        servers[-1].wait_ready()
        return servers[-1]

    yield start
    for server in servers:
        server.stop()  # before pytest-django flushes the database it holds connections to


def web_connections() -> Counter:
    """The web server's connections to the test database by application_name: every one but this process's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_name FROM pg_stat_activity"
            " WHERE datname = %s AND application_name <> current_setting('application_name')",
            [connection.settings_dict["NAME"]],
        )
        return Counter(name for (name,) in cursor.fetchall())


class PeakConnections:
    """The most connections the server held at any moment while the block ran (sampled by a thread)."""

    def __init__(self):
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        try:
            while not self._done.wait(0.02):
                self.peak = max(self.peak, web_connections().total())
        finally:
            connection.close()  # this thread's own, so the test database can be dropped

    def __enter__(self) -> "PeakConnections":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._thread.join(timeout=10)
        self.peak = max(self.peak, web_connections().total())


def drive(server: WebServer, key: str, count: int) -> Counter:
    """`count` GETs of the webhook list from CLIENTS clients at once; how many of each status."""
    url, headers = f"{server.url}/api/v1/webhooks", {"Authorization": f"Bearer {key}"}
    with ThreadPoolExecutor(CLIENTS) as clients:
        return Counter(clients.map(lambda _: requests.get(url, headers=headers, timeout=30).status_code, range(count)))


@pytest.mark.parametrize("shape", SHAPES)
def test_connections_stay_within_the_threads_however_many_requests_come(shape, start_web, tenant):
    server = start_web(shape, subprocess_database_url())
    budget = connection_budget(server.argv)
    assert drive(server, tenant.key, 1) == {200: 1}
    before = web_connections()
    assert before == {"calendence-web": 1}, f"one request, one kept connection; found {before}\n{server.log()}"

    with PeakConnections() as connections:
        assert drive(server, tenant.key, REQUESTS) == {200: REQUESTS}

    assert 1 <= connections.peak <= budget, f"{connections.peak} connections for {budget} threads\n{server.log()}"
    assert set(web_connections()) == {"calendence-web"}  # still kept for the next requests (DATABASE_CONN_MAX_AGE)


@pytest.mark.parametrize("shape", SHAPES)
def test_connections_come_back_after_an_outage_without_piling_up(shape, start_web, tcp_proxy, tenant):
    database = connection.settings_dict
    proxy = tcp_proxy(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432))
    server = start_web(shape, subprocess_database_url(through=proxy))
    budget = connection_budget(server.argv)
    assert drive(server, tenant.key, REQUESTS // 3) == {200: REQUESTS // 3}  # a connection in every thread

    proxy.cut()
    assert drive(server, tenant.key, OUTAGE_REQUESTS) == {503: OUTAGE_REQUESTS}
    proxy.restore()
    wait_until(lambda: drive(server, tenant.key, 1) == {200: 1}, RECOVERY_SECONDS, "the API to answer 200 again")

    with PeakConnections() as connections:
        assert drive(server, tenant.key, REQUESTS) == {200: REQUESTS}

    assert 1 <= connections.peak <= budget, f"{connections.peak} connections for {budget} threads\n{server.log()}"
    assert 1 <= proxy.open_connections <= budget
