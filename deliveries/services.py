"""Recording events and fanning them out to deliveries: the outbox's write side.

event_publish runs inside the transaction of the change it reports. The Event and
its Delivery rows commit with that change or not at all; the Celery messages that
tell a worker to send go out only after the commit (and if the broker is down
then, the sweeper in deliveries.tasks sends them later).
"""

import json
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from bookings.models import Business
from bookings.payloads import iso_utc
from webhooks.selectors import webhook_endpoints_for_event

from .dispatch import enqueue_after_commit
from .models import Delivery, Event


def event_body(*, event_id: str, event_type: str, occurred_at: datetime, data: dict, is_test: bool) -> str:
    """The JSON body every delivery of the event sends, serialized once."""
    body = {"id": event_id, "event": event_type, "timestamp": iso_utc(occurred_at), "data": data}
    if is_test:
        body["test"] = True
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


@transaction.atomic
def event_publish(*, business: Business, event_type: str, data: dict, is_test: bool = False) -> Event:
    """Record that `event_type` happened to `business`, and a delivery to each subscribed endpoint."""
    occurred_at = timezone.now()
    event = Event(business=business, type=event_type, occurred_at=occurred_at, is_test=is_test)
    event.body = event_body(
        event_id=event.id, event_type=event_type, occurred_at=occurred_at, data=data, is_test=is_test
    )
    event.save(force_insert=True)
    endpoints = webhook_endpoints_for_event(business=business, event_type=event_type)
    deliveries_create(event=event, endpoints=endpoints, due_at=occurred_at)
    return event


def deliveries_create(*, event: Event, endpoints, due_at: datetime) -> list[Delivery]:
    deliveries = Delivery.objects.bulk_create(
        [Delivery(event=event, endpoint=endpoint, next_attempt_at=due_at) for endpoint in endpoints]
    )
    enqueue_after_commit([delivery.id for delivery in deliveries])
    return deliveries


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """A fresh series of attempts for the same event and delivery id; attempt numbers continue."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status != Delivery.Status.PENDING:
        delivery.series_start = delivery.attempt_count
    delivery.status = Delivery.Status.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.completed_at = None
    delivery.save(update_fields=["status", "series_start", "next_attempt_at", "completed_at", "updated_at"])
    enqueue_after_commit([delivery.id])
    return delivery
