"""The overview: deliveries per hour, the endpoints failing most, the backlog as /metrics has it, workers."""

from datetime import timedelta

import pytest
from celery import Celery
from django.utils import timezone

from console.workers import WorkerPing, workers_ping
from deliveries.metrics import deliveries_due_unsent
from deliveries.models import Delivery

OVERVIEW = "/admin/overview/"


def test_the_admin_index_links_to_the_overview(admin_client):
    assert f'href="{OVERVIEW}"' in admin_client.get("/admin/").content.decode()


def test_the_overview_needs_a_staff_login(client, db):
    response = client.get(OVERVIEW)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_overview_charts_the_hours_and_lists_the_failing_endpoint(admin_client, failing):
    page = admin_client.get(OVERVIEW).content.decode()
    assert page.count('class="console-failed"') == 25  # a bar for each hour begun in the last 24 h
    assert "1 failed" in page and "failed: 1" in page
    assert failing.endpoint.url in page and "Acme Wash" in page and "HTTP 500" in page


def test_the_backlog_is_the_number_metrics_has(admin_client, failing):
    Delivery.objects.filter(pk=failing.pk).update(
        status="pending", next_attempt_at=timezone.now() - timedelta(minutes=2)
    )
    count, _oldest = deliveries_due_unsent(timezone.now())
    page = admin_client.get(OVERVIEW).content.decode()
    assert count == 1
    assert "<td><strong>1</strong></td>" in page
    assert "due " in page and ("120 s" in page or "121 s" in page)
    metrics = admin_client.get("/metrics").content.decode()
    assert "calendence_deliveries_due_unsent 1.0" in metrics


def test_the_workers_section_names_those_that_answered_or_says_none_did(admin_client):
    page = admin_client.get(OVERVIEW).content.decode()
    ping = workers_ping()
    if ping.answered:  # a Redis shared with running workers
        assert all(name in page for name in ping.answered)
    else:
        assert "No worker answered." in page or "The broker cannot be reached" in page


@pytest.fixture
def own_broker_url(monkeypatch):
    """Celery prefers CELERY_BROKER_URL from the environment to an app's own broker."""
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)


def test_a_broker_no_worker_listens_on_has_no_worker_answering(tmp_path, own_broker_url):
    quiet = Celery(broker="filesystem://localhost//", broker_transport_options={
        "data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(tmp_path),
    })
    assert workers_ping(app=quiet, timeout=0.2) == WorkerPing(answered=[])


def test_an_unreachable_broker_is_reported_not_raised(own_broker_url):
    unreachable = Celery(broker="redis://127.0.0.1:1/0")
    ping = workers_ping(app=unreachable, timeout=0.2)
    assert ping.answered == [] and ping.broker_error
