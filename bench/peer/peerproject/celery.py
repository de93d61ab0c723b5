"""The peer's Celery app, as Celery's "First steps with Django" and django-webhook's docs set it up.

django-webhook's fire_webhook goes to a queue of its own (docs/source/celery.md, "Using a
dedicated worker"); the bench names it, so that it never meets our tasks on the shared Redis.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerproject.settings")

app = Celery("peerproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.task_routes = [[("django_webhook.tasks.fire_webhook", {"queue": os.environ["PEER_QUEUE"]})]]
