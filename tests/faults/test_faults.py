"""Fault injection: the delivery guarantees hold while Redis, a worker or a receiver misbehaves.

Every test starts from real processes (Celery workers and beat started as in production,
a Redis of its own, PostgreSQL, a local receiver that checks signatures), injects one fault,
and then checks the three promises of CONTRACT.md §7:
- every event arrived at least once, every copy with the same event id and a valid signature;
- no attempt was sent twice (each X-Calendence-Delivery-Id + X-Calendence-Attempt once);
- the delivery log tells the truth: settled, no attempt left open, numbers 1..n, each logged
  attempt is one the receiver saw (and the other way round), with the error the fault implies.
"""

import base64
import json
import logging
import re
import signal
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from deliveries import dispatch
from deliveries.models import Delivery, DeliveryAttempt
from tests.faults.conftest import FAULT_SETTINGS
from tests.support.receiver import Answer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

ALL_EVENTS = ["booking.created", "booking.updated", "booking.cancelled", "booking.completed"]
DEADLINE = FAULT_SETTINGS["WEBHOOK_TIMEOUT_SECONDS"]
CLAIM = FAULT_SETTINGS["WEBHOOK_TIMEOUT_SECONDS"] + FAULT_SETTINGS["WEBHOOK_CLAIM_MARGIN_SECONDS"]
QUIET_PERIOD = 1.5  # after everything settled, nothing more may arrive for this long


# --- Driving the API -----------------------------------------------------------------------------

class Api:
    """The business's API calls, as an integrator makes them."""

    def __init__(self, tenant):
        self.client = tenant.client
        self.location = self._post("/api/v1/locations", {"name": "Main Shop"})["id"]
        self.service = self._post("/api/v1/services", {"name": "Express Wash"})["id"]
        self._bookings = 0

    def _post(self, path, body=None, expect=201):
        response = self.client.post(path, body, format="json")
        assert response.status_code == expect, (path, response.status_code, response.content)
        return response.json()

    def register(self, receiver, events=ALL_EVENTS) -> dict:
        webhook = self._post("/api/v1/webhooks", {"url": receiver.url, "events": list(events)})
        receiver.secret = webhook["secret"]
        return webhook

    def book(self) -> dict:
        self._bookings += 1
        starts_at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC) + timedelta(hours=self._bookings)
        return self._post("/api/v1/bookings", {
            "service_id": self.service,
            "location_id": self.location,
            "client": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(minutes=30)).isoformat(),
        })

    def cancel(self, booking) -> dict:
        return self._post(f"/api/v1/bookings/{booking['id']}/cancel", expect=200)

    def deliveries(self, webhook) -> list[dict]:
        response = self.client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", {"limit": 200})
        assert response.status_code == 200, response.content
        page = response.json()
        assert page["next"] is None
        return page["results"]


# --- What every test checks ------------------------------------------------------------------------

def wait_until_settled(webhook, count: int, timeout: float) -> None:
    def settled():
        deliveries = Delivery.objects.filter(endpoint_id=webhook["id"])
        return deliveries.count() == count and not deliveries.filter(status=Delivery.Status.PENDING).exists()

    wait_until(settled, timeout, f"{count} deliveries to settle")


def assert_nothing_more_arrives(receiver) -> None:
    arrived = len(receiver.requests)
    assert len(receiver.wait_for(arrived + 1, timeout=QUIET_PERIOD)) == arrived, "a request arrived after settling"


def assert_the_log_tells_the_truth(api, webhook, receiver, *, events: int) -> dict[str, dict]:
    """The checks every fault test ends with; returns the API's delivery log by delivery id."""
    received = list(receiver.requests)

    # Every copy is authentic, and names its event the same way in the body and the headers.
    for copy in received:
        assert copy.signature_valid is True, copy.headers
        assert copy.headers["X-Calendence-Event-Id"] == copy.json["id"] == copy.headers["webhook-id"]
    copies_by_event = defaultdict(list)
    for copy in received:
        copies_by_event[copy.json["id"]].append(copy)
    for event_id, copies in copies_by_event.items():
        assert len({copy.body for copy in copies}) == 1, f"{event_id}: copies differ"
        assert len({copy.headers["X-Calendence-Delivery-Id"] for copy in copies}) == 1, event_id

    # Every event arrived, at least once.
    log = api.deliveries(webhook)
    assert len(log) == events
    assert set(copies_by_event) == {delivery["event_id"] for delivery in log}

    # No attempt was sent twice: each (delivery, attempt number) reached the receiver once.
    pairs = Counter((c.headers["X-Calendence-Delivery-Id"], c.headers["X-Calendence-Attempt"]) for c in received)
    assert [pair for pair, times in pairs.items() if times > 1] == []

    # The log: settled and successful, attempts 1..n, closed, in sequence, matching the receiver.
    for delivery in log:
        attempts = delivery["attempts"]
        numbers = [attempt["number"] for attempt in attempts]
        assert delivery["status"] == "succeeded", delivery
        assert numbers == list(range(1, len(attempts) + 1)), delivery
        assert all(attempt["finished_at"] is not None for attempt in attempts), delivery
        assert (attempts[-1]["status_code"], attempts[-1]["error"]) == (200, None), delivery
        assert all(a["error"] is not None or not 200 <= a["status_code"] < 300 for a in attempts[:-1]), delivery
        for earlier, later in zip(attempts, attempts[1:], strict=False):
            assert later["started_at"] >= earlier["finished_at"], f"overlapping attempts: {delivery}"
        seen = sorted(int(c.headers["X-Calendence-Attempt"]) for c in received
                      if c.headers["X-Calendence-Delivery-Id"] == delivery["id"])
        assert seen == numbers, f"receiver saw attempts {seen}, the log says {numbers}: {delivery}"

    # Nothing is left in progress or claimed.
    assert not DeliveryAttempt.objects.filter(finished_at__isnull=True).exists()
    assert not Delivery.objects.filter(claimed_until__isnull=False).exists()
    return {delivery["id"]: delivery for delivery in log}


def outcomes(delivery) -> list[tuple]:
    return [(a["number"], a["status_code"], a["error"]) for a in delivery["attempts"]]


def retry_messages_in_redis(redis_client) -> Counter:
    """Delivery ids of the deliver tasks with an ETA (scheduled retries) stored anywhere in Redis."""
    stored = []
    for key in redis_client.keys("*"):
        kind = redis_client.type(key)
        if kind == b"list":
            stored += redis_client.lrange(key, 0, -1)
        elif kind == b"hash":  # kombu's unacked messages: [message, exchange, routing_key]
            stored += redis_client.hvals(key)
    ids = Counter()
    for item in stored:
        try:
            message = json.loads(item)
        except ValueError:
            continue
        if isinstance(message, list):
            message = message[0]
        if not isinstance(message, dict):
            continue
        headers = message.get("headers") or {}
        if headers.get("task") == "deliveries.tasks.deliver" and headers.get("eta"):
            [delivery_ids], _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            ids.update(delivery_ids)
    return ids


def task_results(log: str) -> list[int]:
    """How many attempts each deliver task in a worker's log made (0: its deliveries were taken already)."""
    succeeded = r"Task deliveries\.tasks\.deliver\[[^\]]+\] succeeded in [\d.]+s: (\d+)"
    return [int(made) for made in re.findall(succeeded, log)]


# --- 1. Redis stopped while bookings are created ----------------------------------------------------------

def test_events_committed_while_redis_is_down_are_all_delivered_once_it_is_back(
    faults, tenant, make_scripted_receiver, caplog
):
    caplog.set_level(logging.WARNING, logger="deliveries.dispatch")
    beat = faults.start_beat(wait=False)
    worker = faults.start_worker()
    beat.wait_ready()
    receiver = make_scripted_receiver(lambda attempt: Answer(200))
    api = Api(tenant)
    webhook = api.register(receiver)

    before = api.book()
    assert len(receiver.wait_for(1, timeout=10)) == 1
    # Its worker loop ends (it lingers a moment for more work), so nothing is running
    # that could take the next bookings from the database without a message.
    wait_until(lambda: sum(task_results(worker.log())) == 1, 10, "the worker loop to end")

    faults.redis.stop()
    during = []
    for _ in range(3):
        started = time.monotonic()
        during.append(api.book())  # the change commits although its message cannot be sent
        assert time.monotonic() - started < 5
    api.cancel(before)
    not_sent = [r for r in caplog.records if r.name == "deliveries.dispatch" and "Could not enqueue" in r.getMessage()]
    assert len(not_sent) == 4  # the fault was real: no message reached a broker
    assert len(receiver.requests) == 1

    faults.redis.start()
    back_at = time.monotonic()
    after = api.book()  # the API's publisher finds the broker again
    not_sent = [r for r in caplog.records if r.name == "deliveries.dispatch" and "Could not enqueue" in r.getMessage()]
    assert len(not_sent) == 4

    wait_until_settled(webhook, 6, timeout=45)
    assert_nothing_more_arrives(receiver)
    log = assert_the_log_tells_the_truth(api, webhook, receiver, events=6)
    assert all(outcomes(delivery) == [(1, 200, None)] for delivery in log.values())
    outage_bookings = {booking["id"] for booking in during}
    for copy in receiver.requests:
        if copy.json["data"]["id"] in outage_bookings or copy.json["event"] == "booking.cancelled":
            assert copy.at >= back_at  # sent only once Redis was back: by the sweeper
    assert {b["id"] for b in [before, *during, after]} == {c.json["data"]["id"] for c in receiver.requests}


# --- 2. Redis flushed while retries are scheduled ---------------------------------------------------------

def test_retries_scheduled_in_a_flushed_redis_still_happen(faults, tenant, make_scripted_receiver):
    faults.configure(WEBHOOK_RETRY_BASE_SECONDS=2.0)  # time to stop the worker before a retry is due
    beat = faults.start_beat(wait=False)
    first = faults.start_worker()
    beat.wait_ready()
    receiver = make_scripted_receiver(lambda attempt: {1: Answer(500), 2: Answer(503)}.get(attempt, Answer(200)))
    api = Api(tenant)
    webhook = api.register(receiver)
    for _ in range(4):
        api.book()

    def retries_scheduled(count):
        return Delivery.objects.filter(
            endpoint_id=webhook["id"], status="pending", attempt_count=count, claimed_until__isnull=True
        ).count() == 4

    wait_until(lambda: retries_scheduled(1), 15, "4 first attempts to fail and schedule their retries")
    ids = set(Delivery.objects.filter(endpoint_id=webhook["id"]).values_list("id", flat=True))
    # A warm shutdown puts the ETA messages the worker held back into Redis; flushing loses them.
    assert first.stop() == 0
    wait_until(lambda: set(retry_messages_in_redis(faults.redis.client())) == ids, 5,
               "the scheduled retries to be messages in Redis")
    faults.redis.flushall()
    assert retry_messages_in_redis(faults.redis.client()) == Counter()
    assert retries_scheduled(1)  # no retry happened before the flush

    faults.start_worker()
    wait_until(lambda: retries_scheduled(2), 30, "4 second attempts (handed over by the sweeper) to fail")
    faults.redis.flushall()  # and again, on a live system, while the third attempts are scheduled
    api.book()  # publishing works on a flushed Redis (this one goes through the same three attempts)

    wait_until_settled(webhook, 5, timeout=40)
    assert_nothing_more_arrives(receiver)
    log = assert_the_log_tells_the_truth(api, webhook, receiver, events=5)
    assert ids < set(log)
    for delivery in log.values():
        assert outcomes(delivery) == [(1, 500, None), (2, 503, None), (3, 200, None)]


# --- 3. A worker killed in the middle of an attempt -------------------------------------------------------

def test_attempt_of_a_killed_worker_is_closed_as_worker_lost_and_completed_by_another(
    faults, tenant, make_scripted_receiver
):
    beat = faults.start_beat(wait=False)
    doomed = faults.start_worker("doomed")
    beat.wait_ready()
    # Each receiver holds its first attempt far beyond the deadline, and answers the others.
    # Three endpoints: a worker sends a new endpoint one attempt at a time.
    receivers = [
        make_scripted_receiver(lambda attempt: Answer(200, delay=30) if attempt == 1 else Answer(200)) for _ in range(3)
    ]
    api = Api(tenant)
    webhooks = [api.register(receiver) for receiver in receivers]
    api.book()

    for receiver in receivers:
        [held] = receiver.wait_for(1, timeout=10)
        assert held.headers["X-Calendence-Attempt"] == "1"
    in_flight = DeliveryAttempt.objects.filter(finished_at__isnull=True)
    assert in_flight.count() == 3  # three attempts in progress, in the doomed worker's threads
    claims = dict(Delivery.objects.values_list("id", "claimed_until"))
    assert len(claims) == 3 and all(claims.values())

    assert doomed.sigkill() == -signal.SIGKILL
    faults.start_worker("rescuer")

    for webhook, receiver in zip(webhooks, receivers, strict=True):
        wait_until_settled(webhook, 1, timeout=30)
        assert_nothing_more_arrives(receiver)
        log = assert_the_log_tells_the_truth(api, webhook, receiver, events=1)
        for delivery_id, delivery in log.items():
            assert outcomes(delivery) == [(1, None, "worker_lost"), (2, 200, None)]
            lost, done = DeliveryAttempt.objects.filter(delivery_id=delivery_id).order_by("number")
            # Nobody took the delivery over while the dead worker's claim stood.
            assert done.started_at >= claims[delivery_id]
            assert lost.finished_at >= claims[delivery_id]
            assert lost.duration_ms >= (CLAIM - 0.5) * 1000


# --- 4. Two workers racing on the same due deliveries -----------------------------------------------------

def test_two_workers_and_duplicate_messages_never_send_an_attempt_twice(faults, tenant, make_scripted_receiver):
    beat = faults.start_beat(wait=False)
    racers = [faults.start_worker("racer1", wait=False), faults.start_worker("racer2", wait=False)]
    for process in [beat, *racers]:
        process.wait_ready()
    # A failed first attempt held a moment (a claim in flight), then retries that succeed.
    receiver = make_scripted_receiver(
        lambda attempt: Answer(500, delay=0.3) if attempt == 1 else Answer(200, delay=0.1)
    )
    api = Api(tenant)
    webhook = api.register(receiver)

    ids: list[str] = []
    for _ in range(30):
        api.book()  # after commit: the first message
        [new] = Delivery.objects.filter(endpoint_id=webhook["id"]).exclude(id__in=ids).values_list("id", flat=True)
        ids.append(new)
        for _copy in range(2):  # two more messages naming it, right behind the first
            assert dispatch.enqueue([new]) == 1
    assert dispatch.enqueue(ids) == 30  # and one naming every delivery once more

    wait_until_settled(webhook, 30, timeout=60)
    assert_nothing_more_arrives(receiver)
    log = assert_the_log_tells_the_truth(api, webhook, receiver, events=30)
    assert set(log) == set(ids)
    assert all(outcomes(delivery) == [(1, 500, None), (2, 200, None)] for delivery in log.values())
    assert len(receiver.requests) == 60

    # Both workers took part, every message reached one of them (at least the 91 sent above),
    # and together they made exactly the 60 attempts the receiver saw: the copies sent nothing.
    # A worker holds at most 4 messages (4 threads, prefetch 1) and fetches more only on its
    # next broker poll, a second or two apart: the 91 messages take 8 to 12 s from the first
    # booking, of which only 3 or 4 have passed once the deliveries are settled.
    wait_until(lambda: sum(len(task_results(r.log())) for r in racers) >= 91, 45, "every message to be processed")
    made = [sum(task_results(racer.log())) for racer in racers]
    assert all(made), f"a worker made no attempt: {made}"
    assert sum(made) == 60


# --- 5. The receiver answers 200 only after the deadline --------------------------------------------------

def test_answer_after_the_deadline_is_a_timeout_and_the_retry_carries_the_same_event(
    faults, tenant, make_scripted_receiver
):
    beat = faults.start_beat(wait=False)
    faults.start_worker()
    beat.wait_ready()
    receiver = make_scripted_receiver(
        lambda attempt: Answer(200, delay=DEADLINE + 1.0) if attempt == 1 else Answer(200)
    )
    api = Api(tenant)
    webhook = api.register(receiver)
    booking = api.book()
    api.cancel(booking)

    wait_until_settled(webhook, 2, timeout=20)
    assert_nothing_more_arrives(receiver)
    log = assert_the_log_tells_the_truth(api, webhook, receiver, events=2)
    for delivery in log.values():
        assert outcomes(delivery) == [(1, None, "timeout"), (2, 200, None)]
        timed_out = delivery["attempts"][0]
        assert DEADLINE * 1000 <= timed_out["duration_ms"] < (DEADLINE + 1) * 1000
    for event_id in {copy.json["id"] for copy in receiver.requests}:
        first, duplicate = [copy for copy in receiver.requests if copy.json["id"] == event_id]
        assert duplicate.headers["X-Calendence-Event-Id"] == first.headers["X-Calendence-Event-Id"] == event_id
        assert duplicate.body == first.body
        # The retry waited for the deadline, then the backoff (less the first request's connect time).
        assert duplicate.at - first.at >= DEADLINE + FAULT_SETTINGS["WEBHOOK_RETRY_BASE_SECONDS"] - 0.1


# --- 6. A warm shutdown while a worker works off a queue -----------------------------------------------

def test_a_warm_shutdown_claims_nothing_after_the_signal_and_another_worker_finishes(
    faults, tenant, make_scripted_receiver
):
    # Two attempts at a time to the one endpoint, 0.2 s each: the worker claims batch after batch.
    faults.configure(WEBHOOK_ENDPOINT_CONCURRENCY=2)
    first = faults.start_worker("first")
    receiver = make_scripted_receiver(lambda attempt: Answer(200, delay=0.2))
    api = Api(tenant)
    webhook = api.register(receiver)
    for _ in range(40):
        api.book()

    receiver.wait_for(4, timeout=15)
    signalled = datetime.now(UTC)
    assert first.stop() == 0
    made = DeliveryAttempt.objects.filter(delivery__endpoint_id=webhook["id"])
    assert made.count() < 40  # it left the rest of the queue
    # It claimed nothing once the signal had reached it (the second allows for that), and
    # logged every attempt it made.
    assert not made.filter(started_at__gt=signalled + timedelta(seconds=1)).exists()
    assert not made.filter(finished_at__isnull=True).exists()

    faults.start_worker("second")
    wait_until_settled(webhook, 40, timeout=60)
    assert_nothing_more_arrives(receiver)
    log = assert_the_log_tells_the_truth(api, webhook, receiver, events=40)
    assert all(outcomes(delivery) == [(1, 200, None)] for delivery in log.values())
