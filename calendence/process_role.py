"""Which of the service's processes this one is, to name its database connections.

PostgreSQL shows the name in pg_stat_activity.application_name, so an operator (or a
test) can count the connections web, worker and beat each hold.
"""

from pathlib import Path

CELERY_COMMANDS = ("worker", "beat")
# PostgreSQL keeps at most 63 bytes of an application_name.
APPLICATION_NAME_LIMIT = 63


def process_role(argv: list[str]) -> str:
    """'web' under gunicorn, 'worker' or 'beat' under celery, the command under manage.py."""
    program = Path(argv[0]).name if argv else ""
    if program == "__main__.py":  # python -m gunicorn, python -m celery
        program = Path(argv[0]).parent.name
    if program == "gunicorn":
        return "web"
    if program == "celery":
        return next((arg for arg in argv[1:] if arg in CELERY_COMMANDS), "celery")
    if program == "manage.py" and len(argv) > 1:
        return argv[1]
    return Path(program).stem or "python"


def database_application_name(argv: list[str]) -> str:
    return f"calendence-{process_role(argv)}"[:APPLICATION_NAME_LIMIT]
