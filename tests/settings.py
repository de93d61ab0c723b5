"""Settings for the test suite: the project's own, adjusted only where tests need it."""

import os
import uuid

from calendence.settings import *  # noqa: F403
from calendence.settings import DATABASES, VAR_DIR

# Worker threads in the end-to-end tests open their own connections: close them
# after each task so the test database can be flushed and dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The end-to-end tests run a Celery worker in threads next to the test: a file
    # (not in-memory) test database lets every thread see the same committed data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Several test runs may share one Redis: each run gets a queue of its own (worker
# processes started by a test are given the test's queue through CELERY_QUEUE).
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE") or f"calendence-test-{uuid.uuid4().hex[:12]}"
if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    _broker_dir = VAR_DIR / f"test-broker-{os.getpid()}"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
        "polling_interval": 0.05,
    }
