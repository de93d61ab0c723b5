# Loaded with the settings, so that django-webhook's tasks (bound to celery.current_app) use this app.
from peerproject.celery import app as celery_app

__all__ = ["celery_app"]
