"""Database unreachable: the API answers 503 JSON with Retry-After, and recovers by itself.

A real web process (gunicorn, as in production, with the project's own settings) reaches
pytest-django's PostgreSQL test database through a TCP proxy the test owns. Cutting the
proxy is what a database crash, restart or network partition looks like to the process:
its open connection closed under it, and new ones failing at once.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from calendence.errors import DATABASE_RETRY_AFTER_SECONDS
from tests.faults.conftest import PROJECT_DIR, _tail, free_port, subprocess_database_url, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

# Less than settings' connect_timeout (5 s): a cut answers at once, it does not wait for it.
PROMPT_SECONDS = 3.0
RECOVERY_SECONDS = 3.0


class WebServer:
    """gunicorn serving calendence.wsgi on a free loopback port, its output in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        argv = [sys.executable, "-m", "gunicorn", "calendence.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                "--workers", "1", "--graceful-timeout", "2"]
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        def answers() -> bool:
            assert self.process.poll() is None, f"gunicorn exited:\n{self.log()}"
            try:
                return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(answers, timeout, f"gunicorn on port {self.port}")

    def log(self) -> str:
        return _tail(self.log_path)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(params=["development", "production"])
def web_behind_proxy(request, transactional_db, tcp_proxy, tmp_path):
    """(server, proxy): the web process in the given CALENDENCE_ENV, its database behind the proxy."""
    database = connection.settings_dict
    proxy = tcp_proxy(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="calendence.settings",  # production's, persistent connections included
        DATABASE_URL=subprocess_database_url(through=proxy),
        CALENDENCE_ENV=request.param,
        DJANGO_SECRET_KEY="fault-test-secret-key",
        WEBHOOK_SECRETS_KEY=settings.WEBHOOK_SECRETS_KEY,  # production requires one
        CALENDENCE_VAR_DIR=str(tmp_path / "var"),
        PYTHONUNBUFFERED="1",
    )
    server = WebServer(env, tmp_path / "gunicorn.log")
    try:
        server.wait_ready()
        yield server, proxy
    finally:
        server.stop()  # before pytest-django flushes the database it holds a connection to


def assert_service_unavailable(response: requests.Response, log: str) -> None:
    assert response.status_code == 503, f"{response.status_code} {response.text[:300]}\n{log}"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    assert response.json()["error"]["code"] == "service_unavailable"


def timed_get(url: str, **kwargs) -> requests.Response:
    started = time.monotonic()
    response = requests.get(url, timeout=10, **kwargs)
    assert time.monotonic() - started < PROMPT_SECONDS, f"GET {url} took {time.monotonic() - started:.1f} s"
    return response


def test_api_is_503_json_while_the_database_is_cut_and_200_once_it_is_back(web_behind_proxy, tenant):
    server, proxy = web_behind_proxy
    auth = {"Authorization": f"Bearer {tenant.key}"}
    webhooks = f"{server.url}/api/v1/webhooks"
    assert requests.get(webhooks, headers=auth, timeout=10).status_code == 200  # its connection is now open

    proxy.cut()
    assert_service_unavailable(timed_get(webhooks, headers=auth), server.log())
    assert_service_unavailable(timed_get(f"{server.url}/metrics"), server.log())
    write = requests.post(webhooks, headers=auth, json={"url": "https://example.com/h", "events": ["*"]}, timeout=10)
    assert_service_unavailable(write, server.log())
    ready = timed_get(f"{server.url}/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    assert ready.json()["checks"]["database"].startswith("error: ")
    assert "Database unreachable; GET /api/v1/webhooks answered 503" in server.log()

    proxy.restore()
    wait_until(lambda: requests.get(webhooks, headers=auth, timeout=5).status_code == 200, RECOVERY_SECONDS,
               "the API to answer 200 again")
    assert requests.get(webhooks, headers=auth, timeout=5).json()["results"] == []  # the write was not stored
    assert requests.get(f"{server.url}/readyz", timeout=5).json()["checks"]["database"] == "ok"
