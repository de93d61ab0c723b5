"""Each process names its database connections after its role (pg_stat_activity.application_name)."""

import pytest
from django.conf import settings
from django.db import connection

from calendence.process_role import database_application_name, process_role


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        ([".venv/bin/gunicorn", "calendence.wsgi:application", "--threads", "4"], "web"),
        (["/venv/lib/python3.11/site-packages/gunicorn/__main__.py", "calendence.wsgi:application"], "web"),
        ([".venv/bin/celery", "-A", "calendence", "worker", "--pool", "threads"], "worker"),
        (["/venv/lib/python3.11/site-packages/celery/__main__.py", "-A", "calendence", "beat"], "beat"),
        (["celery", "-A", "calendence", "inspect", "ping"], "celery"),
        (["manage.py", "migrate", "--noinput"], "migrate"),
        (["manage.py"], "manage"),
        (["/usr/bin/python3"], "python3"),
        ([], "python"),
    ],
)
def test_the_role_comes_from_the_command_line(argv, role):
    assert process_role(argv) == role


def test_the_application_name_fits_postgresql():
    assert database_application_name(["celery", "-A", "calendence", "worker"]) == "calendence-worker"
    assert len(database_application_name(["manage.py", "x" * 100])) == 63


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql", reason="PostgreSQL only"
)
def test_postgresql_connections_carry_the_application_name(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        assert cursor.fetchone()[0].startswith("calendence-")
