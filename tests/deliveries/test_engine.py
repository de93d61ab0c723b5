"""The engine's loop, driven directly (no worker): batches, endpoint slots, slow endpoints, shutdown."""

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from deliveries import engine
from deliveries.attempts import attempts_begin
from deliveries.concurrency import START_SLOTS
from deliveries.engine import deliveries_finish_in_flight, deliveries_work_off
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.sender import Sender, sender
from tests.support.receiver import Answer


def statuses(deliveries) -> list[str]:
    return sorted(Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).values_list("status", flat=True))


def test_a_loop_works_off_every_due_delivery_in_batches_once_each(make_receiver, deliveries_to, settings):
    settings.WEBHOOK_BATCH_SIZE = 4
    receivers = [make_receiver() for _ in range(3)]
    deliveries_to(*receivers, bookings=3)

    assert deliveries_work_off() == 9  # three batches, one loop

    for receiver in receivers:
        received = receiver.wait_for(3)
        assert len(receiver.wait_for(4, timeout=0.3)) == 3 and all(r.signature_valid for r in received)
    assert Delivery.objects.filter(status="succeeded", attempt_count=1).count() == 9
    assert DeliveryAttempt.objects.filter(status_code=200, finished_at__isnull=False).count() == 9


def test_a_message_that_finds_nothing_due_does_nothing(make_receiver, deliveries_to):
    receiver = make_receiver()
    deliveries_to(receiver)
    assert deliveries_work_off() == 1
    assert deliveries_work_off() == 0  # a copy of the message, or the sweeper's
    assert len(receiver.wait_for(2, timeout=0.3)) == 1


def test_a_slow_endpoint_does_not_hold_up_the_others(make_receiver, deliveries_to):
    slow, fast = make_receiver(Answer(delay=3)), make_receiver()
    slow_deliveries, fast_deliveries = deliveries_to(slow, fast, bookings=2).values()

    assert deliveries_work_off() == 4  # the loop ends once the slow answers are logged too

    assert statuses(slow_deliveries) == statuses(fast_deliveries) == ["succeeded", "succeeded"]
    fast_logged = max(DeliveryAttempt.objects.filter(delivery__in=fast_deliveries).values_list("finished_at", flat=True))
    slow_logged = min(DeliveryAttempt.objects.filter(delivery__in=slow_deliveries).values_list("finished_at", flat=True))
    assert (slow_logged - fast_logged).total_seconds() > 1.5  # the fast ones did not wait for the slow answers


def test_a_lone_loop_takes_work_that_falls_due_while_it_lingers(make_receiver, deliveries_to, monkeypatch):
    receiver = make_receiver()
    deliveries_to(receiver)
    wait_for_work = engine._wait_for_work

    def booking_made_meanwhile(slots, *, until):
        if Delivery.objects.count() == 1:
            deliveries_to(receiver)  # committed with no Celery message: to both endpoints now
        wait_for_work(slots, until=until)

    monkeypatch.setattr(engine, "_wait_for_work", booking_made_meanwhile)
    assert deliveries_work_off() == 3
    assert len(receiver.wait_for(3)) == 3


def test_idle_loops_do_not_poll_side_by_side(make_receiver, deliveries_to, monkeypatch):
    """Once it finds nothing to claim, a loop leaves at once if another loop of the process
    runs (that one lingers for new work), instead of both polling the database."""
    deliveries_to(make_receiver())
    idle_waits = []
    monkeypatch.setattr(engine, "_wait_for_work", lambda slots, *, until: idle_waits.append(until))
    slots = sender()
    slots.enter()  # another loop of this process
    try:
        assert deliveries_work_off() == 1
    finally:
        slots.leave()
    assert idle_waits == []


def test_a_wakeup_logs_answers_still_in_flight_when_no_loop_is_left(make_receiver, deliveries_to):
    receiver = make_receiver(Answer(delay=0.5))
    [[delivery]] = deliveries_to(receiver).values()
    slots = sender()
    sendings, _refused = attempts_begin(slots=slots, limit=10)
    assert slots.send(sendings, patience=0) == []  # handed off, and no loop runs to log the answer

    assert deliveries_work_off() == 0  # nothing to claim, but the answer to wait for and log
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.status_code, Delivery.objects.get(pk=delivery.pk).status) == (200, "succeeded")


def test_an_endpoint_never_has_more_attempts_in_flight_than_its_slots(make_receiver, deliveries_to, settings):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    receiver = make_receiver(Answer(delay=1))
    [deliveries] = deliveries_to(receiver, bookings=3).values()

    assert deliveries_work_off() == 3
    first, second, third = DeliveryAttempt.objects.filter(delivery__in=deliveries).order_by("started_at")
    assert third.started_at >= min(first.finished_at, second.finished_at)  # it waited for a free slot
    assert statuses(deliveries) == ["succeeded"] * 3 and len(receiver.wait_for(3)) == 3


def test_a_warm_shutdown_waits_for_the_attempts_in_flight_and_logs_them(make_receiver, deliveries_to):
    receiver = make_receiver(Answer(delay=1))
    [[delivery]] = deliveries_to(receiver).values()
    slots = sender()
    sendings, _refused = attempts_begin(slots=slots, limit=10)
    assert slots.send(sendings, patience=0) == []  # still in flight
    assert Delivery.objects.get(pk=delivery.pk).status == "pending"

    assert deliveries_finish_in_flight() == 1
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.status_code, Delivery.objects.get(pk=delivery.pk).status) == (200, "succeeded")


def test_a_shutting_down_worker_claims_nothing_more_and_leaves_the_rest_to_a_wakeup(
    make_receiver, deliveries_to, settings, monkeypatch
):
    settings.WEBHOOK_BATCH_SIZE = 1
    receiver = make_receiver()
    [deliveries] = deliveries_to(receiver, bookings=2).values()
    monkeypatch.setattr(engine, "_stopping", False)  # and back to False after the test
    wakeups = []
    monkeypatch.setattr(engine, "enqueue_wakeup", lambda: wakeups.append(1))
    finish = engine._finish

    def shutdown_signal_during_the_first_batch(slots, finished):
        outcomes = finish(slots, finished)
        if finished:
            engine.deliveries_stop_claiming()  # what the worker_shutting_down handler calls
        return outcomes

    monkeypatch.setattr(engine, "_finish", shutdown_signal_during_the_first_batch)

    assert deliveries_work_off() == 1  # its batch is sent and logged, and no second claim
    assert statuses(deliveries) == ["pending", "succeeded"] and wakeups == [1]
    unclaimed = Delivery.objects.get(pk__in=[d.pk for d in deliveries], status="pending")
    assert (unclaimed.attempt_count, unclaimed.claimed_until) == (0, None)

    deliveries_finish_in_flight()  # the worker's last step; a process that goes on claims again
    assert deliveries_work_off() == 1
    assert statuses(deliveries) == ["succeeded", "succeeded"]


def test_a_shutting_down_worker_stops_waiting_for_slow_answers_and_logs_them_at_exit(
    make_receiver, deliveries_to, monkeypatch
):
    receiver = make_receiver(Answer(delay=3))
    [[delivery]] = deliveries_to(receiver).values()
    monkeypatch.setattr(engine, "_stopping", False)
    monkeypatch.setattr(engine, "enqueue_wakeup", lambda: None)
    signal = threading.Timer(0.5, engine.deliveries_stop_claiming)  # while the loop waits for the answer
    signal.start()
    try:
        assert deliveries_work_off() == 1
        assert Delivery.objects.get(pk=delivery.pk).status == "pending"  # it did not wait 3 s for the answer
    finally:
        signal.join()
    assert deliveries_finish_in_flight() == 1
    assert Delivery.objects.get(pk=delivery.pk).status == "succeeded"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SKIP LOCKED needs PostgreSQL (SQLite locks the whole file)")
@pytest.mark.django_db(transaction=True)
def test_a_claim_skips_rows_another_worker_has_locked_instead_of_waiting(make_receiver, tenant, make_booking, make_endpoint):
    make_endpoint(tenant, make_receiver())
    make_booking(tenant, email="first@example.com")
    make_booking(tenant, email="second@example.com")
    first, second = Delivery.objects.order_by("next_attempt_at")
    Delivery.objects.update(status="pending", next_attempt_at=first.next_attempt_at, claimed_until=None)
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            list(Delivery.objects.select_for_update().filter(pk=first.pk))
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        sendings, _refused = attempts_begin(slots=Sender(threads=1), limit=10)
        assert [s.delivery.pk for s in sendings] == [second.pk]
    finally:
        release.set()
        thread.join()


def test_the_queries_of_a_batch_do_not_grow_with_its_size(make_receiver, deliveries_to, monkeypatch):
    """Claimed, sent and logged a batch at a time: no query per delivery (nor a lazy load)."""
    monkeypatch.setattr(engine, "LINGER_SECONDS", 0)  # no idle polls, whose number depends on timing

    def queries_to_work_off(bookings: int) -> int:
        deliveries_to(make_receiver(), make_receiver(), bookings=bookings)
        pending = Delivery.objects.filter(status="pending").count()
        with CaptureQueriesContext(connection) as captured:
            assert deliveries_work_off() == pending
        return len(captured.captured_queries)

    # A new endpoint starts with START_SLOTS attempts in flight: both sizes fit in one batch.
    assert queries_to_work_off(2) == queries_to_work_off(START_SLOTS)
