"""The engine's loop, driven directly (no worker): batches, endpoint slots, slow endpoints, shutdown."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from deliveries.attempts import attempts_begin
from deliveries.engine import DeliveryEngine
from deliveries.models import Delivery, DeliveryAttempt
from deliveries.sender import Sender
from tests.support.receiver import Answer


def statuses(deliveries) -> list[str]:
    return sorted(Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).values_list("status", flat=True))


def test_a_loop_works_off_every_due_delivery_in_batches_once_each(
    make_receiver, deliveries_to, settings, delivery_engine
):
    settings.WEBHOOK_BATCH_SIZE = 4
    receivers = [make_receiver() for _ in range(3)]
    deliveries_to(*receivers, bookings=3)

    assert delivery_engine.work_off() == 9  # three batches, one loop

    for receiver in receivers:
        received = receiver.wait_for(3)
        assert len(receiver.wait_for(4, timeout=0.3)) == 3 and all(r.signature_valid for r in received)
    assert Delivery.objects.filter(status="succeeded", attempt_count=1).count() == 9
    assert DeliveryAttempt.objects.filter(status_code=200, finished_at__isnull=False).count() == 9


def test_a_message_that_finds_nothing_due_does_nothing(make_receiver, deliveries_to, delivery_engine):
    receiver = make_receiver()
    deliveries_to(receiver)
    assert delivery_engine.work_off() == 1
    assert delivery_engine.work_off() == 0  # a copy of the message, or the sweeper's
    assert len(receiver.wait_for(2, timeout=0.3)) == 1


def test_a_slow_endpoint_does_not_hold_up_the_others(make_receiver, deliveries_to, delivery_engine):
    slow, fast = make_receiver(Answer(delay=3)), make_receiver()
    slow_deliveries, fast_deliveries = deliveries_to(slow, fast, bookings=2).values()

    assert delivery_engine.work_off() == 4  # the loop ends once the slow answers are logged too

    assert statuses(slow_deliveries) == statuses(fast_deliveries) == ["succeeded", "succeeded"]
    fast_logged = max(
        DeliveryAttempt.objects.filter(delivery__in=fast_deliveries).values_list("finished_at", flat=True)
    )
    slow_logged = min(
        DeliveryAttempt.objects.filter(delivery__in=slow_deliveries).values_list("finished_at", flat=True)
    )
    assert (slow_logged - fast_logged).total_seconds() > 1.5  # the fast ones did not wait for the slow answers


def test_a_lone_loop_takes_work_that_falls_due_while_it_lingers(make_receiver, deliveries_to):
    receiver = make_receiver()
    deliveries_to(receiver)

    def idle(seconds: float) -> None:
        if Delivery.objects.count() == 1:
            deliveries_to(receiver)  # committed with no Celery message: to both endpoints now
        time.sleep(seconds)

    engine = DeliveryEngine(send_threads=4, wakeup=lambda: None, idle=idle)
    try:
        assert engine.work_off() == 3
    finally:
        engine.shut_down()
    assert len(receiver.wait_for(3)) == 3


def test_idle_loops_do_not_poll_side_by_side(make_receiver, deliveries_to):
    """Once it finds nothing to claim, a loop leaves at once if another loop of the process
    runs (that one lingers for new work), instead of both polling the database."""
    deliveries_to(make_receiver())
    idle_waits = []
    engine = DeliveryEngine(send_threads=4, wakeup=lambda: None, idle=idle_waits.append)
    engine.sender.enter()  # another loop of this process
    try:
        assert engine.work_off() == 1
    finally:
        engine.sender.leave()
        engine.shut_down()
    assert idle_waits == []


def test_a_wakeup_logs_answers_still_in_flight_when_no_loop_is_left(make_receiver, deliveries_to, delivery_engine):
    receiver = make_receiver(Answer(delay=0.5))
    [[delivery]] = deliveries_to(receiver).values()
    sendings, _refused = attempts_begin(sender=delivery_engine.sender, limit=10)
    assert delivery_engine.sender.send(sendings, patience=0) == []  # handed off, and no loop runs to log it

    assert delivery_engine.work_off() == 0  # nothing to claim, but the answer to wait for and log
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.status_code, Delivery.objects.get(pk=delivery.pk).status) == (200, "succeeded")


def test_an_endpoint_never_has_more_attempts_in_flight_than_its_slots(
    make_receiver, deliveries_to, settings, delivery_engine
):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    receiver = make_receiver(Answer(delay=1))
    [deliveries] = deliveries_to(receiver, bookings=3).values()

    assert delivery_engine.work_off() == 3
    first, second, third = DeliveryAttempt.objects.filter(delivery__in=deliveries).order_by("started_at")
    assert third.started_at >= min(first.finished_at, second.finished_at)  # it waited for a free slot
    assert statuses(deliveries) == ["succeeded"] * 3 and len(receiver.wait_for(3)) == 3


def test_a_warm_shutdown_waits_for_the_attempts_in_flight_and_logs_them(make_receiver, deliveries_to):
    receiver = make_receiver(Answer(delay=1))
    [[delivery]] = deliveries_to(receiver).values()
    engine = DeliveryEngine(send_threads=4, wakeup=lambda: None)
    sendings, _refused = attempts_begin(sender=engine.sender, limit=10)
    assert engine.sender.send(sendings, patience=0) == []  # still in flight
    assert Delivery.objects.get(pk=delivery.pk).status == "pending"

    assert engine.shut_down() == 1
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.status_code, Delivery.objects.get(pk=delivery.pk).status) == (200, "succeeded")


def test_a_shutting_down_worker_claims_nothing_more_and_leaves_the_rest_to_a_wakeup(
    make_receiver, deliveries_to, settings
):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 1  # the second delivery waits for the first's answer
    receiver = make_receiver(Answer(delay=1))
    [deliveries] = deliveries_to(receiver, bookings=2).values()
    wakeups = []
    engine = DeliveryEngine(send_threads=4, wakeup=lambda: wakeups.append(1))
    signal = threading.Timer(0.5, engine.stop_claiming)  # while its first attempt is in flight
    signal.start()
    try:
        assert engine.work_off() == 1  # one batch sent, and no second claim
    finally:
        signal.join()
    unclaimed = Delivery.objects.get(pk__in=[d.pk for d in deliveries], attempt_count=0)
    assert unclaimed.claimed_until is None and wakeups == [1]

    assert engine.shut_down() == 1  # the worker's last step logs the answer in flight
    assert statuses(deliveries) == ["pending", "succeeded"]
    again = DeliveryEngine(send_threads=4, wakeup=lambda: None)  # the worker that comes next
    try:
        assert again.work_off() == 1
    finally:
        again.shut_down()
    assert statuses(deliveries) == ["succeeded", "succeeded"]


def test_a_shutting_down_worker_stops_waiting_for_slow_answers_and_logs_them_at_exit(
    make_receiver, deliveries_to, delivery_engine
):
    receiver = make_receiver(Answer(delay=3))
    [[delivery]] = deliveries_to(receiver).values()
    signal = threading.Timer(0.5, delivery_engine.stop_claiming)  # while the loop waits for the answer
    signal.start()
    try:
        assert delivery_engine.work_off() == 1
        assert Delivery.objects.get(pk=delivery.pk).status == "pending"  # it did not wait 3 s for the answer
    finally:
        signal.join()
    assert delivery_engine.shut_down() == 1
    assert Delivery.objects.get(pk=delivery.pk).status == "succeeded"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SKIP LOCKED needs PostgreSQL (SQLite locks the whole file)"
)
@pytest.mark.django_db(transaction=True)
def test_a_claim_skips_rows_another_worker_has_locked_instead_of_waiting(
    make_receiver, tenant, make_booking, make_endpoint
):
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
        sendings, _refused = attempts_begin(sender=Sender(threads=1), limit=10)
        assert [s.delivery.pk for s in sendings] == [second.pk]
    finally:
        release.set()
        thread.join()


def test_the_queries_of_a_batch_do_not_grow_with_its_size(make_receiver, deliveries_to):
    """Claimed, sent and logged a batch at a time: no query per delivery (nor a lazy load)."""
    engine = DeliveryEngine(send_threads=256, linger_seconds=0, wakeup=lambda: None)  # no idle polls

    def queries_to_work_off(endpoints: int) -> int:
        deliveries_to(*[make_receiver() for _ in range(endpoints)], bookings=1)
        pending = Delivery.objects.filter(status="pending").count()
        with CaptureQueriesContext(connection) as captured:
            assert engine.work_off() == pending
        return len(captured.captured_queries)

    try:
        # A delivery to each of 2 or 10 new endpoints (one slot each at first): one batch either way.
        assert queries_to_work_off(2) == queries_to_work_off(10)
    finally:
        engine.shut_down()
