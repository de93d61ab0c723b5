"""Logs an operator can read: a line per delivery that fails for good, none for a sweep that finds nothing."""

import logging
from datetime import timedelta

import pytest
from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS
from django.utils import timezone

from calendence.log_filters import QuietRoutineTasks
from deliveries.models import Delivery
from deliveries.tasks import sweep_due_deliveries
from tests.support.engine import delivery_attempt
from tests.support.receiver import Answer
from webhooks.services import webhook_endpoint_update

SWEEP = "deliveries.tasks.sweep_due_deliveries"


@pytest.fixture
def delivery(tenant, make_booking, make_endpoint, make_receiver, django_capture_on_commit_callbacks):
    make_endpoint(tenant, make_receiver(Answer(status=500, body=b"down")))
    with django_capture_on_commit_callbacks(execute=False):
        make_booking(tenant)
    return Delivery.objects.get()


def failed_for_good_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if "failed for good" in record.getMessage()]


def test_a_delivery_that_fails_for_good_logs_one_line_saying_what_and_why(delivery, tenant, settings, caplog):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    with caplog.at_level(logging.WARNING, logger="deliveries"):
        delivery_attempt(delivery.id)
        assert failed_for_good_lines(caplog) == []  # a retry is coming: nothing to say yet
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        delivery_attempt(delivery.id)
    [line] = failed_for_good_lines(caplog)
    endpoint = delivery.endpoint
    assert f"Delivery {delivery.id} failed for good (attempts: 2)" in line
    assert f"of business {tenant.business.pk}" in line and f"to endpoint {endpoint.pk} ({endpoint.url})" in line
    assert line.endswith("last error: HTTP 500")


def test_a_delivery_refused_for_a_disabled_endpoint_logs_one_line(delivery, caplog):
    webhook_endpoint_update(endpoint=delivery.endpoint, is_active=False)
    with caplog.at_level(logging.WARNING, logger="deliveries"):
        delivery_attempt(delivery.id)
    [line] = failed_for_good_lines(caplog)
    assert delivery.id in line and "endpoint_disabled" in line


def test_a_sweep_that_finds_nothing_logs_nothing_and_one_that_finds_some_says_so(delivery, settings, caplog):
    with caplog.at_level(logging.INFO):
        assert sweep_due_deliveries() == 0
        assert caplog.records == []
        overdue = timezone.now() - timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_SECONDS + 5)
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=overdue)
        sweep_due_deliveries()
    assert any("Found 1 overdue deliveries" in record.getMessage() for record in caplog.records)


def celery_record(logger: str, message: str, args) -> logging.LogRecord:
    """A record as Celery's worker and beat make them."""
    return logging.LogRecord(logger, logging.INFO, __file__, 1, message, args, None)


def test_celery_s_lines_about_an_empty_sweep_are_dropped_and_others_kept():
    quiet = QuietRoutineTasks()
    task = {"id": "1", "name": SWEEP, "runtime": 0.01, "args": "()", "kwargs": "{}"}
    assert not quiet.filter(celery_record("celery.worker.strategy", LOG_RECEIVED, (task,)))
    assert not quiet.filter(celery_record("celery.app.trace", LOG_SUCCESS, ({**task, "return_value": "0"},)))
    assert not quiet.filter(
        celery_record("celery.beat", "Scheduler: Sending due task %s (%s)", ("sweep-due-deliveries", SWEEP))
    )
    assert quiet.filter(celery_record("celery.app.trace", LOG_SUCCESS, ({**task, "return_value": "3"},)))
    other = {**task, "name": "deliveries.tasks.deliver"}
    assert quiet.filter(celery_record("celery.worker.strategy", LOG_RECEIVED, (other,)))
    assert quiet.filter(
        celery_record(
            "celery.beat", "Scheduler: Sending due task %s (%s)", ("purge", "deliveries.tasks.purge_delivery_log")
        )
    )
