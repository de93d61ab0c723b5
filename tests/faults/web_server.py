"""A web process for fault tests: a gunicorn command line on pytest-django's PostgreSQL test database.

It runs with the project's own settings (calendence.settings: persistent connections
included), not the tests', on a free loopback port, its output in a log file.
"""

import os
import signal
import subprocess
from pathlib import Path

import requests
from django.conf import settings as django_settings

from tests.faults.conftest import PROJECT_DIR, _tail
from tests.support.waiting import wait_until


def web_environment(*, database_url: str, calendence_env: str, var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="calendence.settings",  # production's, persistent connections included
        DATABASE_URL=database_url,
        CALENDENCE_ENV=calendence_env,
        DJANGO_SECRET_KEY="fault-test-secret-key",
        WEBHOOK_SECRETS_KEY=django_settings.WEBHOOK_SECRETS_KEY,  # production requires one
        CALENDENCE_VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


class WebServer:
    """`argv` (a gunicorn command serving on 127.0.0.1:`port`) as a subprocess."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str], log_path: Path):
        self.argv, self.port, self.log_path = argv, port, log_path
        self.url = f"http://127.0.0.1:{port}"
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        def answers() -> bool:
            assert self.process.poll() is None, f"{self.argv[0]} exited:\n{self.log()}"
            try:
                return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except (requests.ConnectionError, requests.Timeout):  # not listening yet; workers still booting
                return False

        wait_until(answers, timeout, f"{self.argv[0]} on port {self.port}")

    def log(self) -> str:
        return _tail(self.log_path)

    def stop(self) -> None:
        """Ctrl-C (gunicorn's quick shutdown), as under `make run`; killed if it lingers."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
