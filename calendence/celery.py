"""The Celery app. Configuration lives in Django settings under the CELERY_ prefix."""

import os

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "calendence.settings")

# How often a worker's event loop wakes up, at the longest (EventLoopTick).
EVENT_LOOP_TICK_SECONDS = 0.1


class EventLoopTick(bootsteps.StartStopStep):
    """Wakes the worker's event loop every EVENT_LOOP_TICK_SECONDS.

    The loop reads the broker only while the worker may take more messages (its prefetch
    limit), and a task that ends in a thread of the threads pool (the pool our workers run)
    does not wake it. Without a tick, once a burst had filled the worker, the next message
    waited for the loop's next timer, up to 10 s (Celery issue 6941).
    """

    def __init__(self, consumer, **kwargs):
        self.entry = None
        super().__init__(consumer, **kwargs)

    def start(self, consumer):
        self.entry = consumer.timer.call_repeatedly(EVENT_LOOP_TICK_SECONDS, _tick)

    def stop(self, consumer):
        if self.entry is not None:
            self.entry.cancel()
            self.entry = None

    shutdown = stop


def _tick() -> None:
    """Nothing to do: the wake-up is the point (the loop then reads the broker if it may)."""


app = Celery("calendence")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.steps["consumer"].add(EventLoopTick)
app.autodiscover_tasks()
