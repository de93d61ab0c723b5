"""Database unreachable: the API answers 503 JSON with Retry-After, and recovers by itself.

A real web process (gunicorn, as in production, with the project's own settings) reaches
pytest-django's PostgreSQL test database through a TCP proxy the test owns. Cutting the
proxy is what a database crash, restart or network partition looks like to the process:
its open connection closed under it, and new ones failing at once.
"""

import sys
import time

import pytest
import requests
from django.db import connection

from calendence.errors import DATABASE_RETRY_AFTER_SECONDS
from tests.faults.conftest import free_port, subprocess_database_url
from tests.faults.web_server import WebServer, web_environment
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

# Less than settings' connect_timeout (5 s): a cut answers at once, it does not wait for it.
PROMPT_SECONDS = 3.0
RECOVERY_SECONDS = 3.0


def gunicorn_command(port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "calendence.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", "1", "--graceful-timeout", "2"]


@pytest.fixture(params=["development", "production"])
def web_behind_proxy(request, transactional_db, tcp_proxy, tmp_path):
    """(server, proxy): the web process in the given CALENDENCE_ENV, its database behind the proxy."""
    database = connection.settings_dict
    proxy = tcp_proxy(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432))
    env = web_environment(database_url=subprocess_database_url(through=proxy), calendence_env=request.param,
                          var_dir=tmp_path / "var")
    port = free_port()
    server = WebServer(gunicorn_command(port), port, env, tmp_path / "gunicorn.log")
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
