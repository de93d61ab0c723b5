"""Celery tasks: thin. They take ids, and the services decide everything."""

from celery import shared_task
from django.conf import settings

from .attempts import delivery_attempt
from .dispatch import enqueue
from .retention import delivery_log_purge, retention_cutoff
from .services import deliveries_sweep_overdue

# The transport's own deadline ends every attempt; these limits are the backstop
# (enforced by the prefork pool; the threads pool relies on the deadline alone).
ATTEMPT_TIME_LIMIT = settings.WEBHOOK_TIMEOUT_SECONDS + 30


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=ATTEMPT_TIME_LIMIT)
def deliver(delivery_id: str) -> str | None:
    """Make the next attempt of one delivery, and schedule the one after if it failed."""
    outcome = delivery_attempt(delivery_id)
    if outcome is None:
        return None  # not due, settled, or claimed by another worker
    if outcome.retry_at is not None:
        enqueue([delivery_id], eta=outcome.retry_at)
    return outcome.status


@shared_task
def sweep_due_deliveries() -> int:
    """Hand to Celery every delivery that is overdue and unclaimed (run by beat)."""
    return enqueue(deliveries_sweep_overdue())


@shared_task
def purge_delivery_log() -> int:
    """Delete log rows older than WEBHOOK_LOG_RETENTION_DAYS (run daily by beat)."""
    return delivery_log_purge(older_than=retention_cutoff())
