"""An unreachable database is a JSON 503 with Retry-After, in every environment and on every page.

In process, on whichever database the run uses: every query fails the way a lost
PostgreSQL fails it. tests/faults/test_database_outage_api.py proves the same against
a real server process whose PostgreSQL connection is cut.
"""

import json
import logging
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError, connections
from django.test import Client, RequestFactory

from calendence import errors

OUTAGES = [
    OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused'),
    OperationalError("server closed the connection unexpectedly"),
    InterfaceError("connection already closed"),
]


@contextmanager
def every_query_raises(monkeypatch, exc: Exception):
    """Every new cursor raises `exc`; undone before the test's transaction rolls back."""

    def fail(self, *args, **kwargs):
        raise exc

    with monkeypatch.context() as patch:
        patch.setattr(type(connections["default"]), "cursor", fail)
        yield


def assert_service_unavailable(response) -> None:
    assert response.status_code == 503, response.content[:200]
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == str(errors.DATABASE_RETRY_AFTER_SECONDS)
    error = json.loads(response.content)["error"]
    assert error["code"] == "service_unavailable" and "database" in error["message"]
    assert set(error) == {"code", "message"}


def outage_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "calendence.errors" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
@pytest.mark.parametrize("exc", OUTAGES, ids=["refused", "closed", "interface"])
def test_api_call_is_503_json_when_the_database_is_unreachable(tenant, settings, monkeypatch, caplog, debug, exc):
    settings.DEBUG = debug
    with caplog.at_level(logging.WARNING), every_query_raises(monkeypatch, exc):
        response = tenant.client.get("/api/v1/webhooks")
    assert_service_unavailable(response)
    [record] = outage_warnings(caplog)  # logged once, not once per layer
    assert "GET /api/v1/webhooks" in record.getMessage() and str(exc) in record.getMessage()


def test_a_write_is_503_too_and_stores_nothing(tenant, monkeypatch):
    with every_query_raises(monkeypatch, OperationalError("terminating connection due to administrator command")):
        response = tenant.client.post(
            "/api/v1/webhooks", {"url": "https://example.com/hook", "events": ["booking.created"]}, format="json"
        )
    assert_service_unavailable(response)
    assert tenant.client.get("/api/v1/webhooks").json()["results"] == []


@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
def test_pages_outside_the_api_are_503_json_not_the_debug_page(admin_user, settings, monkeypatch, caplog, debug):
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)  # the admin then reads its session and user from the database
    with caplog.at_level(logging.WARNING), every_query_raises(monkeypatch, OperationalError("Connection refused")):
        for path in ("/admin/", "/metrics"):
            response = client.get(path)
            assert_service_unavailable(response)
            assert not response.content.lstrip().startswith(b"<")
    assert len(outage_warnings(caplog)) == 2


def test_readyz_still_names_the_database_rather_than_failing_the_request(client, db, monkeypatch):
    with every_query_raises(monkeypatch, OperationalError("Connection refused")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error: Connection refused"


@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
def test_integrity_error_is_still_a_server_error_not_an_outage(tenant, settings, monkeypatch, debug):
    settings.DEBUG = debug
    tenant.client.raise_request_exception = False
    with every_query_raises(monkeypatch, IntegrityError("duplicate key value violates unique constraint")):
        response = tenant.client.get("/api/v1/webhooks")
    assert response.status_code == 500
    assert "Retry-After" not in response


def test_server_error_handler_answers_503_for_an_outage_that_reached_it():
    # Django calls handler500 inside its except block, e.g. for a middleware's own query.
    request = RequestFactory().get("/admin/")
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        response = errors.server_error(request)
    assert_service_unavailable(response)
    try:
        raise IntegrityError("not an outage")
    except IntegrityError:
        response = errors.server_error(request)
    assert response.status_code == 500
