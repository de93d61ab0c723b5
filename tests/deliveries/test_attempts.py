"""The attempt state machine, driven directly (no worker): claim, record, settle, retry."""

from datetime import timedelta

import pytest
from django.utils import timezone

from deliveries.attempts import attempts_begin, claim_expiry, retry_delay
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.sender import Sender
from deliveries.services import deliveries_redeliver, deliveries_sweep_overdue
from tests.support.engine import delivery_attempt
from tests.support.receiver import Answer
from webhooks.services import webhook_endpoint_delete


@pytest.fixture
def delivery_to(tenant, make_booking, make_endpoint, django_capture_on_commit_callbacks):
    """A pending delivery of a booking.created event to an endpoint at `receiver`."""

    def make(receiver) -> Delivery:
        make_endpoint(tenant, receiver)
        with django_capture_on_commit_callbacks(execute=False):
            make_booking(tenant)
        return Delivery.objects.get()

    return make


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_success_is_recorded_and_settles_the_delivery(make_receiver, delivery_to):
    receiver = make_receiver()
    delivery = delivery_to(receiver)
    outcome = delivery_attempt(delivery.id)
    assert outcome.status == "succeeded" and outcome.retry_at is None
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, None)
    assert attempt.finished_at is not None and attempt.duration_ms is not None
    assert receiver.wait_for(1)[0].signature_valid is True


def test_a_settled_delivery_is_never_sent_again(make_receiver, delivery_to):
    receiver = make_receiver()
    delivery = delivery_to(receiver)
    delivery_attempt(delivery.id)
    assert delivery_attempt(delivery.id) is None
    assert len(receiver.wait_for(2, timeout=0.3)) == 1


def test_a_claimed_delivery_cannot_be_claimed_again(make_receiver, delivery_to):
    delivery = delivery_to(make_receiver())
    slots = Sender(threads=1)
    [sending], refused = attempts_begin(sender=slots, limit=10)
    assert (sending.delivery.id, sending.attempt.number, refused) == (delivery.id, 1, [])
    assert DeliveryAttempt.objects.get(delivery=delivery).finished_at is None  # recorded before it is sent
    assert attempts_begin(sender=slots, limit=10) == ([], [])
    assert delivery_attempt(delivery.id) is None


def test_failure_schedules_a_retry_with_backoff(make_receiver, delivery_to, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    delivery = delivery_to(make_receiver(Answer(status=503)))
    before = timezone.now()
    outcome = delivery_attempt(delivery.id)
    assert outcome.status == "pending"
    assert before + timedelta(seconds=60) <= outcome.retry_at <= timezone.now() + timedelta(seconds=66)
    assert delivery_attempt(delivery.id) is None  # not due yet


def test_last_failed_attempt_fails_the_delivery(make_receiver, delivery_to, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    delivery = delivery_to(make_receiver(Answer(status=500)))
    statuses = []
    for _ in range(3):
        make_due(delivery)
        statuses.append(delivery_attempt(delivery.id).status)
    assert statuses == ["pending", "pending", "failed"]
    assert list(delivery.attempts.values_list("number", "status_code")) == [(1, 500), (2, 500), (3, 500)]


def test_retry_delay_doubles_with_at_most_ten_percent_jitter(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 60
    for attempt, base in [(1, 60), (2, 120), (3, 240)]:
        delays = [retry_delay(attempt) for _ in range(200)]
        assert all(base <= delay <= base * 1.1 for delay in delays)
        assert max(delays) > min(delays)  # jittered, not constant


def test_attempt_left_open_by_a_dead_worker_is_closed_and_counted(make_receiver, delivery_to):
    receiver = make_receiver()
    delivery = delivery_to(receiver)
    # A worker claimed it, recorded attempt 1, and died: its claim has run out.
    DeliveryAttempt.objects.create(delivery=delivery, number=1, started_at=timezone.now() - timedelta(minutes=2))
    Delivery.objects.filter(pk=delivery.pk).update(attempt_count=1, claimed_until=timezone.now() - timedelta(seconds=1))
    outcome = delivery_attempt(delivery.id)
    assert outcome.status == "succeeded"
    assert list(delivery.attempts.values_list("number", "error")) == [(1, "worker_lost"), (2, None)]
    assert receiver.wait_for(1)[0].headers["X-Calendence-Attempt"] == "2"


def test_deleted_endpoint_gets_nothing_and_the_delivery_fails(make_receiver, delivery_to):
    receiver = make_receiver()
    delivery = delivery_to(receiver)
    webhook_endpoint_delete(endpoint=delivery.endpoint)
    outcome = delivery_attempt(delivery.id)
    assert outcome.status == "failed"
    assert Delivery.objects.get(pk=delivery.pk).last_error.startswith("endpoint_deleted")
    assert receiver.wait_for(1, timeout=0.3) == []
    assert not delivery.attempts.exists()


def test_redelivery_keeps_ids_and_continues_attempt_numbers(
    make_receiver, delivery_to, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver = make_receiver(Answer(status=500))
    delivery = delivery_to(receiver)
    assert delivery_attempt(delivery.id).status == "failed"
    receiver.answer = Answer(status=200)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert deliveries_redeliver(Delivery.objects.filter(pk=delivery.pk)) == 1
    assert len(callbacks) == 1  # handed to Celery only after commit
    assert delivery_attempt(delivery.id).status == "succeeded"
    first, second = receiver.wait_for(2)
    assert [r.headers["X-Calendence-Attempt"] for r in (first, second)] == ["1", "2"]
    assert first.headers["X-Calendence-Delivery-Id"] == second.headers["X-Calendence-Delivery-Id"] == delivery.id
    assert first.json["id"] == second.json["id"]


def test_sweeper_picks_only_unclaimed_deliveries_past_the_grace_once_per_interval(make_receiver, delivery_to, settings):
    settings.WEBHOOK_SWEEP_AFTER_SECONDS = 30
    delivery = delivery_to(make_receiver())
    assert deliveries_sweep_overdue() == []  # just due: the fast path has it
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    assert deliveries_sweep_overdue() == [delivery.id]
    assert deliveries_sweep_overdue() == []  # handed over already: not again within the interval
    Delivery.objects.filter(pk=delivery.pk).update(swept_at=timezone.now() - timedelta(minutes=1))
    Delivery.objects.filter(pk=delivery.pk).update(claimed_until=claim_expiry(timezone.now()))
    assert deliveries_sweep_overdue() == []  # a live worker holds it


def test_a_delivery_that_keeps_killing_its_worker_ends_failed_not_looping(make_receiver, delivery_to, settings):
    """Every interrupted attempt counts: once the series is used up, the delivery fails with a clear error."""
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver = make_receiver()
    delivery = delivery_to(receiver)
    started = timezone.now() - timedelta(minutes=5)
    for number in (1, 2, 3):  # three workers died, each in the middle of an attempt
        DeliveryAttempt.objects.create(delivery=delivery, number=number, started_at=started)
    Delivery.objects.filter(pk=delivery.pk).update(attempt_count=3, claimed_until=timezone.now() - timedelta(seconds=1))

    outcome = delivery_attempt(delivery.id)

    assert outcome.status == "failed"
    assert Delivery.objects.get(pk=delivery.pk).last_error.startswith("max_attempts")
    assert set(delivery.attempts.values_list("error", flat=True)) == {"worker_lost"}
    assert receiver.wait_for(1, timeout=0.3) == []
