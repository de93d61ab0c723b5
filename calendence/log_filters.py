"""Keep routine, empty-handed periodic work out of the logs.

Beat sends the sweeper every WEBHOOK_SWEEP_INTERVAL_SECONDS; Celery then logs three lines
for each run (beat's "Sending due task", the worker's "received" and "succeeded ...: 0"),
thousands a day that say nothing. These are dropped for the tasks named below; a run that
did something is still logged (by Celery's "succeeded ...: 3", and by the task itself).
"""

import logging

ROUTINE_TASKS = frozenset({"deliveries.tasks.sweep_due_deliveries"})
NOTHING_DONE = ("0", 0, "None", None)


class QuietRoutineTasks(logging.Filter):
    """For the loggers celery.beat, celery.worker.strategy and celery.app.trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, dict):  # the worker's "received" and "succeeded" lines
            if args.get("name") not in ROUTINE_TASKS:
                return True
            return "return_value" in args and args["return_value"] not in NOTHING_DONE
        if isinstance(args, tuple) and record.msg.startswith("Scheduler: Sending due task"):  # beat
            return not any(arg in ROUTINE_TASKS for arg in args)
        return True
