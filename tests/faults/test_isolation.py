"""Isolation, with real worker processes: a hostile or hanging receiver, or a killed worker,
costs nobody else anything, and a try is used only by a request that left."""

import signal
import threading
import time

import pytest

from deliveries.concurrency import START_SLOTS
from deliveries.models import Delivery, DeliveryAttempt
from tests.faults.test_faults import (
    Api,
    assert_nothing_more_arrives,
    assert_the_log_tells_the_truth,
    outcomes,
    wait_until_settled,
)
from tests.support.receiver import Answer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_a_receiver_answering_nul_bytes_costs_the_other_business_nothing(
    faults, tenant, other_tenant, make_scripted_receiver
):
    faults.start_worker()
    hostile = make_scripted_receiver(lambda attempt: Answer(200, body=b"ok\x00\x00", headers={"X-Odd": "a\x00b"}))
    healthy = make_scripted_receiver(lambda attempt: Answer(200))
    acme, other = Api(tenant), Api(other_tenant)
    hostile_hook, healthy_hook = acme.register(hostile), other.register(healthy)
    for _ in range(10):  # interleaved, so that batches hold both businesses' deliveries
        acme.book()
        other.book()

    wait_until_settled(healthy_hook, 10, timeout=30)
    wait_until_settled(hostile_hook, 10, timeout=30)
    assert_nothing_more_arrives(healthy)
    log = assert_the_log_tells_the_truth(other, healthy_hook, healthy, events=10)
    assert all(outcomes(delivery) == [(1, 200, None)] for delivery in log.values())
    # A 2xx is a success whatever its body; the body is stored with its NULs made safe.
    hostile_attempts = DeliveryAttempt.objects.filter(delivery__endpoint_id=hostile_hook["id"])
    assert set(hostile_attempts.values_list("number", "status_code", "response_body")) == {(1, 200, "ok\ufffd\ufffd")}
    assert all(
        headers["X-Odd"] == "a\ufffdb" for headers in hostile_attempts.values_list("response_headers", flat=True)
    )
    assert len(hostile.requests) == 10


def test_more_hanging_attempts_than_send_threads_do_not_hold_up_an_endpoint_that_answers(
    faults, tenant, other_tenant, make_scripted_receiver
):
    """Three endpoints that hang, twelve deliveries each: 36 hanging deliveries for 4 send
    threads a lane."""
    faults.configure(WEBHOOK_SEND_THREADS=4, WEBHOOK_TIMEOUT_SECONDS=8.0)
    faults.start_worker()
    hanging = [make_scripted_receiver(lambda attempt: Answer(200, delay=30)) for _ in range(3)]
    healthy = make_scripted_receiver(lambda attempt: Answer(200))
    acme, other = Api(tenant), Api(other_tenant)
    for receiver in hanging:
        acme.register(receiver)
    healthy_hook = other.register(healthy)
    for _ in range(12):
        acme.book()
    wait_until(lambda: sum(len(receiver.requests) for receiver in hanging) >= 3, 10, "the first hanging attempts")

    waits = []
    for _ in range(5):
        committed = time.monotonic()
        other.book()
        arrived = healthy.wait_for(len(waits) + 1, timeout=8)
        assert len(arrived) == len(waits) + 1, "a healthy delivery waited for the hanging attempts' deadline"
        waits.append(arrived[-1].at - committed)

    assert max(waits) < 3, waits  # the hanging attempts hold their threads for 8 s
    wait_until_settled(healthy_hook, 5, timeout=10)
    assert set(Delivery.objects.filter(endpoint_id=healthy_hook["id"]).values_list("status", "attempt_count")) == {
        ("succeeded", 1)
    }
    assert Delivery.objects.filter(endpoint__business=tenant.business, status="pending").count() == 36


def test_a_killed_worker_uses_up_only_the_tries_whose_requests_left(faults, tenant, make_scripted_receiver):
    """Five endpoints with twelve deliveries each: the worker holds as many as it may send
    (START_SLOTS per endpoint: it knows nothing of them yet), all hanging, when it is killed;
    the rest were never claimed."""
    faults.configure(WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_RETRY_BASE_SECONDS=0.5)
    killed = threading.Event()
    receivers = [
        make_scripted_receiver(lambda attempt: Answer(500) if killed.is_set() else Answer(500, delay=30))
        for _ in range(5)
    ]
    api = Api(tenant)
    webhooks = [api.register(receiver) for receiver in receivers]
    beat = faults.start_beat(wait=False)
    doomed = faults.start_worker("doomed")
    beat.wait_ready()
    for _ in range(12):
        api.book()

    in_flight = 5 * START_SLOTS
    wait_until(lambda: sum(len(r.requests) for r in receivers) == in_flight, 15, "the claimed batch to be in flight")
    time.sleep(0.5)  # room for a claim the worker should not make
    assert DeliveryAttempt.objects.count() == in_flight  # nothing claimed that was not sent
    killed.set()
    assert doomed.sigkill() == -signal.SIGKILL
    faults.start_worker("rescuer")

    for webhook in webhooks:
        wait_until_settled(webhook, 12, timeout=90)
    for receiver in receivers:
        assert_nothing_more_arrives(receiver)
    for webhook, receiver in zip(webhooks, receivers, strict=True):
        for delivery in api.deliveries(webhook):
            seen = sorted(int(c.headers["X-Calendence-Attempt"]) for c in receiver.requests
                          if c.headers["X-Calendence-Delivery-Id"] == delivery["id"])
            assert seen == [1, 2, 3], delivery  # every try made, each a real request, no number skipped
            assert delivery["status"] == "failed"
            assert [o[1:] for o in outcomes(delivery)] in (
                [(None, "worker_lost"), (500, None), (500, None)],  # in flight when the worker died
                [(500, None), (500, None), (500, None)],  # never claimed by it
            )
    assert not DeliveryAttempt.objects.filter(finished_at__isnull=True).exists()
