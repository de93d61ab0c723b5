"""The portal scenario's fixture: a busy business's delivery log, written in bulk.

Measurement data, not traffic: the rows bypass the services (which would take hours to make
100,000 deliveries through bookings), but they are the rows the engine writes: each event
fanned out to FANOUT endpoints, one delivery each, attempts numbered from 1 and signed with
the endpoint's secret, created over the last SPAN, newest pending a retry.
"""

import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from deliveries.models import Delivery, DeliveryAttempt, Event, new_delivery_id, new_event_id
from deliveries.signing import calendence_signature, standard_webhooks_signature
from webhooks.event_types import EVENT_TYPES, example_body
from webhooks.models import WebhookEndpoint

# Each event goes to the busy endpoint and FANOUT - 1 of the others: a quarter of the log is the busy one's.
FANOUT = 4
SPAN = timedelta(hours=48)  # half the log inside the stats' 24-hour window, half before it
EVENTS_PER_BATCH = 500
FAILED_EVERY = 20  # one delivery in 20 failed, after every attempt failed
RETRIED_EVERY = 10  # one succeeded delivery in 10 needed a second attempt
RECENT_EVENTS = 0.01  # of the newest events, one delivery in 3 is pending its next attempt


@dataclass
class Fixture:
    deliveries: int
    events: int
    attempts: int
    by_status: dict
    busy_endpoint_id: object
    failed_delivery_id: str | None  # the busy endpoint's newest failed delivery
    failed_event_type: str | None  # its event's type: a filter of the log that finds something


def make_delivery_log(endpoint_ids: list, deliveries: int, *, now: datetime | None = None) -> Fixture:
    """`deliveries` deliveries to `endpoint_ids` (the first is the busy one), with their events and attempts."""
    now = now or timezone.now()
    endpoints = {e.pk: e for e in WebhookEndpoint.objects.filter(pk__in=endpoint_ids).select_related("business")}
    ordered = [endpoints[pk] for pk in endpoint_ids]
    secrets = {e.pk: e.signing_secrets(now)[0] for e in ordered}
    events = -(-deliveries // FANOUT)
    counts = {"deliveries": 0, "attempts": 0, "failed_delivery_id": None, "failed_event_type": None}
    with _timestamps_as_given():
        for first in range(0, events, EVENTS_PER_BATCH):
            batch = range(first, min(first + EVENTS_PER_BATCH, events))
            _write_batch(ordered, secrets, batch, events, deliveries, now, counts)
    _analyze()
    by_status = dict(Delivery.objects.filter(endpoint_id__in=endpoint_ids).order_by().values_list("status")
                     .annotate(n=Count("pk")).values_list("status", "n"))
    return Fixture(deliveries=counts["deliveries"], events=events, attempts=counts["attempts"], by_status=by_status,
                   busy_endpoint_id=endpoint_ids[0], failed_delivery_id=counts["failed_delivery_id"],
                   failed_event_type=counts["failed_event_type"])


def _write_batch(endpoints, secrets, batch, events, deliveries, now, counts) -> None:
    rows_events, rows_deliveries, rows_attempts = [], [], []
    types = list(EVENT_TYPES)
    others = len(endpoints) - 1
    for k in batch:
        created = now - SPAN * (1 - k / events)
        event = _event(endpoints[0].business, types[k % len(types)], created)
        rows_events.append(event)
        for j in range(min(FANOUT, deliveries - k * FANOUT)):
            endpoint = endpoints[0] if j == 0 or not others else endpoints[1 + (k * (FANOUT - 1) + j - 1) % others]
            recent = k >= events * (1 - RECENT_EVENTS) - 1
            delivery, attempts = _delivery(event, endpoint, secrets[endpoint.pk], k + j, recent, now)
            rows_deliveries.append(delivery)
            rows_attempts += attempts
            if delivery.status == Delivery.Status.FAILED and endpoint is endpoints[0]:
                counts["failed_delivery_id"], counts["failed_event_type"] = delivery.id, event.type
    with transaction.atomic():
        Event.objects.bulk_create(rows_events, batch_size=1000)
        Delivery.objects.bulk_create(rows_deliveries, batch_size=1000)
        DeliveryAttempt.objects.bulk_create(rows_attempts, batch_size=1000)
    counts["deliveries"] += len(rows_deliveries)
    counts["attempts"] += len(rows_attempts)


def _event(business, event_type: str, created: datetime) -> Event:
    event_id = new_event_id()
    body = {**example_body(event_type), "id": event_id, "timestamp": created.isoformat()}
    return Event(id=event_id, type=event_type, business=business, body=json.dumps(body),
                 occurred_at=created, created_at=created)


def _delivery(event: Event, endpoint, secret: str, number: int, recent: bool, now: datetime):
    """A delivery in one of three states, with the attempts that led there; `number` picks the state
    (the event's index plus the delivery's place in it, so that every endpoint gets each state)."""
    created = event.created_at + timedelta(milliseconds=5)
    delivery = Delivery(id=new_delivery_id(), event=event, endpoint=endpoint, created_at=created, updated_at=created)
    if recent and number % 3 == 0:
        outcomes = [(None, "timeout")]
        delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, now + timedelta(minutes=10)
    elif number % FAILED_EVERY == 7:
        outcomes = [(503, None)] * settings.WEBHOOK_MAX_ATTEMPTS
        delivery.status, delivery.last_error = Delivery.Status.FAILED, "HTTP 503"
    else:
        outcomes = [(502, None), (200, None)] if number % RETRIED_EVERY == 3 else [(200, None)]
        delivery.status = Delivery.Status.SUCCEEDED
    attempts = [_attempt(delivery, secret, n, status, error, created + timedelta(seconds=30 * (n - 1)))
                for n, (status, error) in enumerate(outcomes, 1)]
    delivery.attempt_count = len(attempts)
    delivery.updated_at = attempts[-1].finished_at
    if delivery.status != Delivery.Status.PENDING:
        delivery.completed_at = attempts[-1].finished_at
    return delivery, attempts


def _attempt(delivery: Delivery, secret: str, number: int, status_code, error, started: datetime) -> DeliveryAttempt:
    body = delivery.event.body.encode()
    stamp = int(started.timestamp())
    headers = {
        "Content-Type": "application/json", "User-Agent": settings.WEBHOOK_USER_AGENT,
        "X-Calendence-Signature": calendence_signature(secret, body),
        "X-Calendence-Event": delivery.event.type, "X-Calendence-Event-Id": delivery.event.id,
        "X-Calendence-Delivery-Id": delivery.id, "X-Calendence-Attempt": str(number),
        "webhook-id": delivery.event.id, "webhook-timestamp": str(stamp),
        "webhook-signature": standard_webhooks_signature(secret, delivery.event.id, stamp, body),
    }
    answered = status_code is not None
    duration_ms = 42 if answered else 10_000  # a timeout waited for the whole deadline
    return DeliveryAttempt(
        delivery=delivery, number=number, started_at=started, finished_at=started + timedelta(milliseconds=duration_ms),
        duration_ms=duration_ms, queued_ms=3, status_code=status_code, error=error,
        error_detail="no answer within 10 s" if error else "", request_headers=headers,
        response_headers={"Content-Type": "text/plain"} if answered else {},
        response_body=("ok" if status_code == 200 else "upstream unavailable") if answered else "",
    )


@contextmanager
def _timestamps_as_given():
    """auto_now(_add) would stamp every row with the time of the insert: keep the spread-out times."""
    fields = [Event._meta.get_field("created_at"), Delivery._meta.get_field("created_at"),
              Delivery._meta.get_field("updated_at")]
    saved = [(f.auto_now, f.auto_now_add) for f in fields]
    for field in fields:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, (auto_now, auto_now_add) in zip(fields, saved, strict=True):
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def _analyze() -> None:
    """Fresh planner statistics, as autovacuum would have them for a log that grew over days."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE deliveries_event, deliveries_delivery, deliveries_deliveryattempt")
