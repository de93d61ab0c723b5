"""The peer: django-webhook 0.0.15 with its documented settings on a minimal booking model.

Everything comes from the environment the bench gives it (bench/peerside.py). The database
connection is configured as ours is (calendence/settings.py: persistent connections with
health checks), so that the comparison is of the webhook libraries, not of Django set-ups.
"""

import os

import dj_database_url

SECRET_KEY = os.environ["PEER_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS: list[str] = []
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = ["django.contrib.contenttypes", "django_webhook", "shop"]

DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60, conn_health_checks=True)}

# django-webhook's documented settings: the models whose changes are sent; the rest as shipped
# (events stored, the webhook lookup cached, Django's JSON encoder).
DJANGO_WEBHOOK = {"MODELS": ["shop.Booking"]}

CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith("filesystem://"):  # --size tiny on the embedded defaults
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": os.environ["PEER_BROKER_DIR"],
        "data_folder_out": os.environ["PEER_BROKER_DIR"],
        "control_folder": os.environ["PEER_BROKER_DIR"],
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
