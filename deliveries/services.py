"""Recording events and fanning them out to deliveries: the outbox's write side.

event_publish runs inside the transaction of the change it reports. The Event and
its Delivery rows commit with that change or not at all; the Celery messages that
tell a worker to send go out only after the commit (and if the broker is down
then, the sweeper in deliveries.tasks sends them later).
"""

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from bookings.models import Business
from bookings.payloads import iso_utc
from webhooks.event_types import example_data
from webhooks.models import WebhookEndpoint
from webhooks.selectors import webhook_endpoints_for_event

from .dispatch import enqueue_after_commit
from .models import Delivery, Event
from .selectors import deliveries_failed_since


class ActionRefused(Exception):
    """The state of the webhook or delivery does not allow the action; `code` names why."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


def endpoint_require_active(endpoint: WebhookEndpoint) -> None:
    """Tests, redeliveries and recoveries go to enabled webhooks only."""
    if not endpoint.is_active:
        raise ActionRefused(
            f"The webhook is disabled ({endpoint.disabled_reason or 'manual'}); enable it first.",
            code="webhook_disabled",
        )


def delivery_require_settled(delivery: Delivery) -> None:
    """A pending delivery is on its way already: redelivering it would be a second copy."""
    if delivery.status == Delivery.Status.PENDING:
        raise ActionRefused("The delivery is still pending: its next attempt is on its way.", code="delivery_pending")


def event_body(*, event_id: str, event_type: str, occurred_at: datetime, data: dict, is_test: bool) -> str:
    """The JSON body every delivery of the event sends, serialized once."""
    body = {"id": event_id, "event": event_type, "timestamp": iso_utc(occurred_at), "data": data}
    if is_test:
        body["test"] = True
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


@transaction.atomic(savepoint=False)  # called inside the change's transaction: no savepoint needed
def event_publish(*, business: Business, event_type: str, data: dict) -> Event:
    """Record that `event_type` happened to `business`, and a delivery to each subscribed endpoint."""
    event = _event_record(business=business, event_type=event_type, data=data, is_test=False)
    endpoints = webhook_endpoints_for_event(business=business, event_type=event_type)
    deliveries_create(event=event, endpoints=endpoints, due_at=event.occurred_at)
    return event


@transaction.atomic
def event_send_test(*, endpoint: WebhookEndpoint, event_type: str) -> Delivery:
    """A signed sample event (`"test": true`) to one endpoint, delivered and logged like any other."""
    event = _event_record(
        business=endpoint.business, event_type=event_type, data=example_data(event_type), is_test=True
    )
    [delivery] = deliveries_create(event=event, endpoints=[endpoint], due_at=event.occurred_at)
    return delivery


def _event_record(*, business: Business | None, event_type: str, data: dict, is_test: bool) -> Event:
    occurred_at = timezone.now()
    event = Event(business=business, type=event_type, occurred_at=occurred_at, is_test=is_test)
    event.body = event_body(
        event_id=event.id, event_type=event_type, occurred_at=occurred_at, data=data, is_test=is_test
    )
    event.save(force_insert=True)
    return event


def deliveries_create(*, event: Event, endpoints, due_at: datetime) -> list[Delivery]:
    deliveries = Delivery.objects.bulk_create(
        [Delivery(event=event, endpoint=endpoint, next_attempt_at=due_at) for endpoint in endpoints]
    )
    enqueue_after_commit([delivery.id for delivery in deliveries])
    return deliveries


def deliveries_redeliver(deliveries: QuerySet[Delivery]) -> int:
    """A fresh series of attempts for each settled delivery: same event, same delivery id,
    attempt numbers continuing. Pending ones are left as they are (already on their way).
    Returns how many were redelivered."""
    return len(deliveries_redeliver_ids(deliveries))


@transaction.atomic
def deliveries_redeliver_ids(deliveries: QuerySet[Delivery]) -> list[str]:
    """As deliveries_redeliver, returning the ids of the deliveries redelivered."""
    ids = list(deliveries.exclude(status=Delivery.Status.PENDING).select_for_update().values_list("id", flat=True))
    Delivery.objects.filter(id__in=ids).update(
        status=Delivery.Status.PENDING,
        series_start=F("attempt_count"),
        next_attempt_at=timezone.now(),
        completed_at=None,
        updated_at=timezone.now(),
    )
    enqueue_after_commit(ids)
    return ids


def deliveries_recover(*, endpoint: WebhookEndpoint, since: datetime) -> int:
    """Redeliver every failed delivery to `endpoint` created since `since`."""
    return deliveries_redeliver(deliveries_failed_since(endpoint, since=since))


@transaction.atomic
def deliveries_sweep_overdue(*, limit: int = 1000) -> list[str]:
    """Deliveries due for WEBHOOK_SWEEP_AFTER_SECONDS that no worker holds: their message was
    lost, or never sent (the broker was down at commit). Each is picked at most once per
    that interval, and SKIP LOCKED keeps two sweepers from picking the same rows. The
    caller hands the ids to Celery after this commits."""
    now = timezone.now()
    overdue_since = now - timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_SECONDS)
    ids = list(
        Delivery.objects.due_unclaimed(now, due_by=overdue_since)
        .filter(Q(swept_at__isnull=True) | Q(swept_at__lte=overdue_since))
        .order_by("next_attempt_at")
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:limit]
    )
    Delivery.objects.filter(id__in=ids).update(swept_at=now)
    return ids
