"""Which Celery workers are up: asked over the broker with Celery's own `ping`, with a short timeout.

A ping is the only source that names every running worker, busy or idle, wherever it runs
(the delivery log records attempts, not which worker made them, and an idle worker makes
none). A worker busy past the timeout can miss it, so the overview says "answered", not "running".
"""

from dataclasses import dataclass

from celery import Celery

from calendence.celery import app as calendence_app

PING_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class WorkerPing:
    answered: list[str]  # worker host names
    broker_error: str | None = None


def workers_ping(*, app: Celery = calendence_app, timeout: float = PING_TIMEOUT_SECONDS) -> WorkerPing:
    """The workers that answer a ping on `app`'s broker within `timeout` seconds."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            replies = app.control.ping(timeout=timeout, connection=connection)
    except Exception as exc:  # noqa: BLE001 - any broker failure is what the page reports
        return WorkerPing(answered=[], broker_error=f"{type(exc).__name__}: {exc}")
    return WorkerPing(answered=sorted(name for reply in replies for name in reply))
