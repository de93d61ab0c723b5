"""Celery tasks: thin. They take ids, and the services decide everything."""

import logging

from celery import shared_task
from celery.signals import worker_shutdown, worker_shutting_down
from django.conf import settings

from .dispatch import enqueue
from .engine import deliveries_finish_in_flight, deliveries_stop_claiming, deliveries_work_off
from .retention import delivery_log_purge, retention_cutoff
from .services import deliveries_sweep_overdue

logger = logging.getLogger(__name__)

# The transport's own deadline ends every attempt, and a loop gives its thread back
# after engine.LOOP_SECONDS; this limit is the backstop (enforced by the prefork pool).
LOOP_TIME_LIMIT = settings.WEBHOOK_TIMEOUT_SECONDS + 60


@shared_task(acks_late=True, reject_on_worker_lost=True, time_limit=LOOP_TIME_LIMIT)
def deliver(delivery_ids: list[str]) -> int:
    """Work off the due deliveries: those named (which the message is about, and the logs
    show) and any other. Returns the number of attempts made."""
    return deliveries_work_off()


@shared_task
def sweep_due_deliveries() -> int:
    """Hand to Celery every delivery that is overdue and unclaimed (run by beat). Silent when
    there is none (calendence.log_filters); a sweep that finds some means messages were lost."""
    overdue = deliveries_sweep_overdue()
    if overdue:
        logger.warning("Found %d overdue deliveries with no worker on them; handing them to the workers again.", len(overdue))
    return enqueue(overdue)


@shared_task
def purge_delivery_log() -> int:
    """Delete log rows older than WEBHOOK_LOG_RETENTION_DAYS (run daily by beat)."""
    return delivery_log_purge(older_than=retention_cutoff())


@worker_shutting_down.connect
def stop_claiming(**_kwargs) -> None:
    """Sent from the worker's signal handler (SIGTERM, Ctrl-C): it only sets a flag."""
    deliveries_stop_claiming()


@worker_shutdown.connect
def finish_attempts_in_flight(**_kwargs) -> None:
    """A warm shutdown waits for the attempts still in flight and logs them."""
    deliveries_finish_in_flight()
