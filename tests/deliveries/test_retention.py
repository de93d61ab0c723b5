from datetime import timedelta

import pytest
from django.utils import timezone

from deliveries.models import Delivery, DeliveryAttempt, Event
from deliveries.retention import delivery_log_purge
from deliveries.tasks import purge_delivery_log
from tests.support.engine import delivery_attempt


@pytest.fixture
def two_deliveries(tenant, make_booking, make_endpoint, make_receiver, django_capture_on_commit_callbacks):
    """Two settled deliveries (with an attempt each) of two events."""
    make_endpoint(tenant, make_receiver())
    with django_capture_on_commit_callbacks(execute=False):
        make_booking(tenant, email="a@example.com")
        make_booking(tenant, email="b@example.com")
    for delivery in Delivery.objects.all():
        delivery_attempt(delivery.id)
    return list(Delivery.objects.order_by("created_at"))


def age(delivery: Delivery, days: int) -> None:
    moment = timezone.now() - timedelta(days=days)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=moment)
    Event.objects.filter(pk=delivery.event_id).update(created_at=moment)


def test_purge_removes_old_deliveries_attempts_and_events_only(two_deliveries):
    old, recent = two_deliveries
    age(old, days=31)
    purged = delivery_log_purge(older_than=timezone.now() - timedelta(days=30), batch_size=1)
    assert purged == 1
    assert list(Delivery.objects.values_list("id", flat=True)) == [recent.id]
    assert list(DeliveryAttempt.objects.values_list("delivery_id", flat=True)) == [recent.id]
    assert list(Event.objects.values_list("id", flat=True)) == [recent.event_id]


def test_purge_keeps_pending_deliveries_however_old(two_deliveries):
    old, _ = two_deliveries
    age(old, days=90)
    Delivery.objects.filter(pk=old.pk).update(status=Delivery.Status.PENDING)
    assert delivery_log_purge(older_than=timezone.now() - timedelta(days=30)) == 0
    assert Delivery.objects.filter(pk=old.pk).exists() and Event.objects.filter(pk=old.event_id).exists()


def test_daily_task_uses_the_retention_setting(two_deliveries, settings):
    old, recent = two_deliveries
    age(old, days=8)
    settings.WEBHOOK_LOG_RETENTION_DAYS = 10
    assert purge_delivery_log() == 0
    settings.WEBHOOK_LOG_RETENTION_DAYS = 7
    assert purge_delivery_log() == 1
    assert list(Delivery.objects.values_list("id", flat=True)) == [recent.id]
