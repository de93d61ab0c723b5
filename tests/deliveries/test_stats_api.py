"""GET /api/v1/webhooks/{id}/stats and the health selectors behind it (and behind the portal and console)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from deliveries.models import Delivery, DeliveryAttempt
from deliveries.selectors import webhook_endpoints_health
from tests.support.receiver import Answer


@pytest.fixture
def history(tenant, make_receiver, make_endpoint, make_booking, django_capture_on_commit_callbacks):
    """An endpoint with deliveries created 2 h ago (2 succeeded, 1 failed), 30 min ago (1 pending),
    and 3 days ago (1 succeeded, outside the default window)."""
    endpoint = make_endpoint(tenant, make_receiver(Answer()))
    with django_capture_on_commit_callbacks(execute=False):
        for number in range(5):
            make_booking(tenant, email=f"client{number}@example.com")
    now = timezone.now()
    first, second, failed, pending, old = Delivery.objects.filter(endpoint=endpoint).order_by("created_at")
    settle(first, "succeeded", created=now - timedelta(hours=2), completed=now - timedelta(hours=2))
    settle(second, "succeeded", created=now - timedelta(hours=2), completed=now - timedelta(minutes=110))
    settle(failed, "failed", created=now - timedelta(hours=2), completed=now - timedelta(minutes=100))
    DeliveryAttempt.objects.create(
        delivery=failed, number=1, started_at=now - timedelta(minutes=101), finished_at=now - timedelta(minutes=100),
        status_code=500,
    )
    settle(pending, "pending", created=now - timedelta(minutes=30), completed=None)
    settle(old, "succeeded", created=now - timedelta(days=3), completed=now - timedelta(days=3))
    return endpoint, now


def settle(delivery, status, *, created, completed):
    Delivery.objects.filter(pk=delivery.pk).update(status=status, created_at=created, completed_at=completed)


def stats(tenant, endpoint_id, **params):
    return tenant.client.get(f"/api/v1/webhooks/{endpoint_id}/stats", params)


def test_stats_count_the_last_24_hours_and_name_the_latest_outcomes(tenant, history):
    endpoint, now = history

    response = stats(tenant, endpoint.id)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["deliveries"] == {"pending": 1, "succeeded": 2, "failed": 1}
    assert body["success_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert body["last_error"] == "HTTP 500"
    assert parse_datetime(body["last_success_at"]) == now - timedelta(minutes=110)
    assert parse_datetime(body["last_failure_at"]) == now - timedelta(minutes=100)
    hours = body["buckets"]
    assert 24 <= len(hours) <= 25
    assert sum(hour["succeeded"] for hour in hours) == 2 and sum(hour["failed"] for hour in hours) == 1
    [busy] = [hour for hour in hours if hour["succeeded"] or hour["failed"]]
    assert (busy["succeeded"], busy["failed"]) == (2, 1)


def test_since_widens_the_window_and_the_latest_success_is_any_time(tenant, history):
    endpoint, now = history
    body = stats(tenant, endpoint.id, since=(now - timedelta(days=4)).isoformat()).json()
    assert body["deliveries"] == {"pending": 1, "succeeded": 3, "failed": 1}
    assert len(body["buckets"]) >= 4 * 24

    narrow = stats(tenant, endpoint.id, since=(now - timedelta(minutes=45)).isoformat()).json()
    assert narrow["deliveries"] == {"pending": 1, "succeeded": 0, "failed": 0}
    assert narrow["success_rate"] is None
    assert narrow["last_success_at"] is not None and narrow["last_error"] == "HTTP 500"


@pytest.mark.parametrize("since", ["yesterday", "2999-01-01T00:00:00Z", "2000-01-01T00:00:00Z"])
def test_a_bad_since_is_a_400_naming_the_field(tenant, history, since):
    endpoint, _now = history
    response = stats(tenant, endpoint.id, since=since)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error" and "since" in response.json()["error"]["fields"]


def test_another_tenants_webhook_has_no_stats(other_tenant, history):
    endpoint, _now = history
    assert stats(other_tenant, endpoint.id).status_code == 404


def test_a_webhook_with_no_deliveries_has_empty_stats(tenant, make_endpoint, make_receiver):
    endpoint = make_endpoint(tenant, make_receiver())
    body = stats(tenant, endpoint.id).json()
    assert body["deliveries"] == {"pending": 0, "succeeded": 0, "failed": 0}
    assert (body["success_rate"], body["last_success_at"], body["last_failure_at"], body["last_error"]) == (
        None, None, None, None
    )


def test_health_of_many_endpoints_takes_the_same_queries_as_one(tenant, make_endpoint, make_receiver, history):
    endpoint, now = history
    others = [make_endpoint(tenant, make_receiver()).pk for _ in range(5)]
    window = {"since": now - timedelta(days=1), "until": now}

    def queries(ids) -> int:
        with CaptureQueriesContext(connection) as captured:
            health = webhook_endpoints_health(ids, **window)
        assert set(health) == set(ids)
        return len(captured.captured_queries)

    assert queries([endpoint.pk]) == queries([endpoint.pk, *others]) == 3  # window counts, latest outcomes, the failure
    assert webhook_endpoints_health(others, **window)[others[0]].success_rate is None
