"""Handing due deliveries to Celery: the fast path, never the only one.

A message names up to WEBHOOK_BATCH_SIZE deliveries (an event's whole fan-out goes
in one). It is a wake-up more than an order: the task that takes it works off every
due delivery it can claim, those named or not (deliveries.engine).

A failure to publish (the broker is down, say) is logged and swallowed: the
delivery rows are already committed, and the sweeper hands them over once the
broker is back. So a booking change never fails because Redis did.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

DELIVER_TASK = "deliveries.tasks.deliver"
# Retries falling due within the same tenth of a second share a message.
RETRY_TICK_US = 100_000


def enqueue_after_commit(delivery_ids: Iterable[str]) -> None:
    ids = list(delivery_ids)
    if ids:
        transaction.on_commit(lambda: enqueue(ids))


def enqueue(delivery_ids: Iterable[str], *, eta: datetime | None = None) -> int:
    """Send the ids in messages of up to WEBHOOK_BATCH_SIZE; returns how many ids the broker took."""
    ids = list(delivery_ids)
    size = settings.WEBHOOK_BATCH_SIZE
    for start in range(0, len(ids), size):
        try:
            _publish(ids[start:start + size], eta=eta)
        except Exception:  # noqa: BLE001 - any broker failure; the sweeper retries
            # The broker is unlikely to take the rest either: stop rather than wait on each.
            logger.warning(
                "Could not enqueue %d deliveries; the sweeper will pick them up.", len(ids) - start, exc_info=True
            )
            return start
    return len(ids)


def enqueue_retries(retries: Iterable[tuple[str, datetime]]) -> None:
    """One message per tenth of a second in which retries fall due, at its end: each delivery
    has its own jitter, and a message must not come before the deliveries it names are due."""
    by_tick: dict[datetime, list[str]] = defaultdict(list)
    for delivery_id, retry_at in retries:
        by_tick[_end_of_tick(retry_at)].append(delivery_id)
    for eta, ids in by_tick.items():
        enqueue(ids, eta=eta)


def _end_of_tick(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // RETRY_TICK_US * RETRY_TICK_US) + timedelta(
        microseconds=RETRY_TICK_US
    )


def enqueue_wakeup() -> None:
    """A message naming no delivery: its task looks for due work (and answers to log)."""
    try:
        _publish([])
    except Exception:  # noqa: BLE001 - any broker failure
        logger.warning("Could not enqueue a wake-up; the next message or sweep will start a worker loop.",
                       exc_info=True)


def _publish(delivery_ids: list[str], *, eta: datetime | None = None) -> None:
    # By name: the tasks module imports the engine and services, which import this one.
    current_app.send_task(DELIVER_TASK, args=(delivery_ids,), eta=eta)
