"""The benchmark's own database, the environment of every process, and the processes.

Every process the benchmark starts is registered here and stopped at the end, on
success, failure or Ctrl-C; each also gets SIGTERM from the kernel if the runner dies
(PR_SET_PDEATHSIG), so nothing outlives it.
"""

import ctypes
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from cryptography.fernet import Fernet

from bench.config import PROJECT_DIR

POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://")
STOP_TIMEOUT = 20.0


# --- The database --------------------------------------------------------------------------

class BenchDatabase:
    """`<name><suffix>` beside DATABASE_URL's database, made from a migrated template.

    With no DATABASE_URL (the embedded defaults), a SQLite file in the work directory.
    The user's own database is never opened.
    """

    def __init__(self, work_dir: Path, suffix: str):
        source = os.environ.get("DATABASE_URL", "")
        self.is_postgres = source.startswith(POSTGRES_SCHEMES)
        if self.is_postgres:
            parts = dj_database_url.parse(source)
            self._server = {k: parts.get(v) for k, v in
                            {"host": "HOST", "port": "PORT", "user": "USER", "password": "PASSWORD"}.items()}
            self.name = f"{parts['NAME']}{suffix}"
            self.template = f"{self.name}_template"
            split = urlsplit(source)
            self.url = split._replace(path="/" + self.name).geturl()
            self.template_url = split._replace(path="/" + self.template).geturl()
        else:
            self.name = str(work_dir / f"bench{suffix}.sqlite3")
            self.template = str(work_dir / f"bench{suffix}_template.sqlite3")
            self.url, self.template_url = f"sqlite:///{self.name}", f"sqlite:///{self.template}"

    @property
    def description(self) -> str:
        return f"PostgreSQL database {self.name}" if self.is_postgres else f"SQLite file {self.name}"

    def _admin(self):
        import psycopg

        server = {k: v for k, v in self._server.items() if v not in (None, "")}
        for maintenance in ("postgres", "template1"):
            try:
                return psycopg.connect(dbname=maintenance, autocommit=True, connect_timeout=5, **server)
            except psycopg.OperationalError:
                if maintenance == "template1":
                    raise

    def _sql(self, *statements: str) -> None:
        with self._admin() as conn:
            for statement in statements:
                conn.execute(statement)

    def create_template(self, env: dict[str, str], log_path: Path, python: str = sys.executable,
                        project_dir: Path = PROJECT_DIR) -> None:
        """A freshly migrated template (migrations as the project in `project_dir` defines them)."""
        if self.is_postgres:
            self._sql(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)', f'CREATE DATABASE "{self.template}"')
        else:
            _remove_sqlite(self.template)
        with open(log_path, "ab") as log:
            subprocess.run(
                [python, "manage.py", "migrate", "--noinput"], cwd=project_dir,
                env={**env, "DATABASE_URL": self.template_url}, stdout=log, stderr=subprocess.STDOUT, check=True,
            )

    def recreate(self) -> None:
        """Drop the bench database and make it again from the template: a clean slate per run."""
        from django.db import connections

        connections.close_all()
        if self.is_postgres:
            self._sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
                      f'CREATE DATABASE "{self.name}" TEMPLATE "{self.template}"')
        else:
            _remove_sqlite(self.name)
            with sqlite3.connect(self.template) as source, sqlite3.connect(self.name) as target:
                source.backup(target)

    def drop(self) -> None:
        from django.db import connections

        connections.close_all()
        if self.is_postgres:
            self._sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
                      f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        else:
            _remove_sqlite(self.name)
            _remove_sqlite(self.template)


def _remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(path + suffix).unlink(missing_ok=True)


# --- The environment ----------------------------------------------------------------------------

def services_problem() -> str | None:
    """Why a full-size run cannot happen here (it needs PostgreSQL and Redis), or None."""
    missing = []
    if not os.environ.get("DATABASE_URL", "").startswith(POSTGRES_SCHEMES):
        missing.append("DATABASE_URL=postgres://user@127.0.0.1:5432/NAME")
    if not os.environ.get("CELERY_BROKER_URL", "").startswith(("redis://", "rediss://")):
        missing.append("CELERY_BROKER_URL=redis://127.0.0.1:6379/N")
    if not missing:
        return None
    return ("a full-size benchmark needs PostgreSQL and Redis, as in production: set "
            + " and ".join(missing) + " (only --size tiny runs on the embedded defaults)")


def process_env(database: BenchDatabase, var_dir: Path, queue: str) -> dict[str, str]:
    """The environment of every process: production settings, the bench database and queue.

    CALENDENCE_ENV=production as in docker-compose.yml (DEBUG off), except that
    endpoints may be on loopback (WEBHOOK_ALLOW_PRIVATE_URLS), where the receiver
    listens, and the API rate limit is lifted so the API scenario measures the server.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_BROKER_WRITE")}
    broker = os.environ.get("CELERY_BROKER_URL", "")
    env.update(
        DJANGO_SETTINGS_MODULE="calendence.settings",
        CALENDENCE_ENV="production",
        DJANGO_SECRET_KEY=os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(40),
        WEBHOOK_SECRETS_KEY=os.environ.get("WEBHOOK_SECRETS_KEY") or Fernet.generate_key().decode(),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        WEBHOOK_ALLOW_PRIVATE_URLS="true",
        API_RATE_LIMIT="1000000/min",
        DATABASE_URL=database.url,
        CELERY_QUEUE=queue,
        CALENDENCE_VAR_DIR=str(var_dir),
        PYTHONUNBUFFERED="1",
    )
    if broker.startswith(("redis://", "rediss://")) and not os.environ.get("CACHE_URL"):
        env["CACHE_URL"] = broker  # production keeps the rate-limit counters in Redis too
    if not broker:
        env.pop("CELERY_BROKER_URL", None)
    return env


# --- Processes ----------------------------------------------------------------------------------

try:  # loaded here, not in the child: between fork and exec only the prctl call runs
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None


def _die_with_the_runner() -> None:
    """In the child: SIGTERM when the runner dies, however it dies (PR_SET_PDEATHSIG)."""
    _LIBC.prctl(1, signal.SIGTERM)


class Process:
    """A subprocess with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path = PROJECT_DIR):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.log_offset = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(
                argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,  # Ctrl-C reaches the runner only
                preexec_fn=_die_with_the_runner if _LIBC is not None else None,  # noqa: PLW1509 - see above
            )
        REGISTRY.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(self.log_offset)
            return log.read().decode("utf-8", errors="replace")

    def wait_ready(self, marker: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.log_text():
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}")
            time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (a warm shutdown for Celery), then SIGKILL after `timeout`."""
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        if self in REGISTRY:
            REGISTRY.remove(self)


REGISTRY: list[Process] = []


def stop_everything() -> None:
    """Stop every process still running, newest first; never raises."""
    for process in reversed(list(REGISTRY)):
        try:
            process.stop(timeout=10)
        except Exception as exc:  # noqa: BLE001 - keep stopping the others
            print(f"bench: could not stop {process.name}: {exc}", file=sys.stderr)


def raise_on_sigterm() -> None:
    """SIGTERM (a CI timeout, `kill`) ends the runner like Ctrl-C: through the cleanup.

    SIGINT too, even where the shell started us with it ignored (a background job)."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
