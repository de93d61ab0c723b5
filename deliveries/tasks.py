"""Celery tasks: thin. They take ids, and the services decide everything."""

import logging

from celery import shared_task
from celery.signals import worker_init, worker_shutdown, worker_shutting_down

from .dispatch import DELIVER_TASK, enqueue
from .engine import process_engine, process_engine_start, process_engine_stop
from .retention import delivery_log_purge, retention_cutoff
from .services import deliveries_sweep_overdue

logger = logging.getLogger(__name__)


# No Celery time limit: the threads pool the workers run cannot enforce one. The guards are
# the engine's own: every attempt ends by its transport deadline, and a loop gives its
# thread back after engine.LOOP_SECONDS.
@shared_task(name=DELIVER_TASK, acks_late=True, reject_on_worker_lost=True)
def deliver(delivery_ids: list[str]) -> int:
    """Work off the due deliveries: those named (which the message is about, and the logs
    show) and any other. Returns the number of attempts made."""
    return process_engine().work_off()


@shared_task
def sweep_due_deliveries() -> int:
    """Hand to Celery every delivery that is overdue and unclaimed (run by beat). Silent when
    there is none (calendence.log_filters); a sweep that finds some means messages were lost."""
    overdue = deliveries_sweep_overdue()
    if overdue:
        logger.warning(
            "Found %d overdue deliveries with no worker on them; handing them to the workers again.", len(overdue)
        )
    return enqueue(overdue)


@shared_task
def purge_delivery_log() -> int:
    """Delete log rows older than WEBHOOK_LOG_RETENTION_DAYS (run daily by beat)."""
    return delivery_log_purge(older_than=retention_cutoff())


@worker_init.connect
def start_delivery_engine(**_kwargs) -> None:
    """Every worker, CLI or test, owns one engine: its send threads, slots and stop flag."""
    process_engine_start()


@worker_shutting_down.connect
def stop_claiming(**_kwargs) -> None:
    """Sent from the worker's signal handler (SIGTERM, Ctrl-C): it only sets a flag."""
    process_engine().stop_claiming()


@worker_shutdown.connect
def finish_attempts_in_flight(**_kwargs) -> None:
    """A warm shutdown waits for the attempts still in flight and logs them."""
    process_engine_stop()
