"""Handing due deliveries to Celery: the fast path, never the only one.

A failure to publish (the broker is down, say) is logged and swallowed: the
delivery row is already committed, and the sweeper hands it over once the broker
is back. So a booking change never fails because Redis did.
"""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_after_commit(delivery_ids: Iterable[str]) -> None:
    ids = list(delivery_ids)
    if ids:
        transaction.on_commit(lambda: enqueue(ids))


def enqueue(delivery_ids: Iterable[str], *, eta: datetime | None = None) -> int:
    """Send one task per delivery; returns how many the broker took."""
    from .tasks import deliver  # the tasks module imports the services that import us

    ids = list(delivery_ids)
    for sent, delivery_id in enumerate(ids):
        try:
            deliver.apply_async((delivery_id,), eta=eta)
        except Exception:  # noqa: BLE001 - any broker failure; the sweeper retries
            # The broker is unlikely to take the rest either: stop rather than wait on each.
            logger.warning(
                "Could not enqueue %d deliveries; the sweeper will pick them up.", len(ids) - sent, exc_info=True
            )
            return sent
    return len(ids)
