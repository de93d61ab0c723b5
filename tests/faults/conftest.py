"""Fault injection: real worker and beat processes, a private Redis, PostgreSQL, local receivers.

Each test gets:
- a redis-server of its own on a free loopback port (the machine's shared Redis is never
  touched), which the test can stop, start again and flush;
- Celery worker and beat subprocesses started exactly as in production
  (`celery -A calendence worker --pool threads ...`, `celery -A calendence beat`), on that
  Redis, on this run's queue, on pytest-django's test database, with short WEBHOOK_* values;
- the test process itself publishing to that Redis (the API's after-commit enqueue), and
  the same WEBHOOK_* values in its own settings.

These tests need PostgreSQL (worker processes must share the test database) and the
redis-server binary. Without them they skip, unless CALENDENCE_REQUIRE_SERVICES=1 (CI),
in which case they fail: CI must never pass with the fault tests silently skipped.

Every subprocess is killed at teardown, even when the test fails; their logs are kept in
the test's tmp_path and attached to the report of a failing test.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

from calendence.celery import app as celery_app
from tests.support.receiver import Answer, Receiver
from tests.support.required import skip_or_fail

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Short enough for tests, and the same in the test process and in every subprocess.
FAULT_SETTINGS = {
    "WEBHOOK_TIMEOUT_SECONDS": 2.0,
    "WEBHOOK_RETRY_BASE_SECONDS": 1.0,
    "WEBHOOK_MAX_ATTEMPTS": 3,
    "WEBHOOK_SWEEP_AFTER_SECONDS": 1.0,
    "WEBHOOK_SWEEP_INTERVAL_SECONDS": 1.0,
    "WEBHOOK_CLAIM_MARGIN_SECONDS": 2.0,
    "WEBHOOK_ENDPOINT_CONCURRENCY": 200,  # the default; a test lowers it to keep one endpoint's queue long
    "WEBHOOK_SEND_THREADS": 256,  # the default; a test lowers it to have more hanging attempts than threads
    "WEBHOOK_BATCH_SIZE": 200,  # the default
}
WORKER_CONCURRENCY = 4
STARTUP_TIMEOUT = 30.0
LOG_TAIL_LINES = 300


# --- Required services ---------------------------------------------------------------------

def missing_services() -> str | None:
    """Why the fault tests cannot run here, or None."""
    missing = []
    engine = django_settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        missing.append(
            f"PostgreSQL (set DATABASE_URL=postgres://...; this run uses {engine.rsplit('.', 1)[-1]})"
        )
    if shutil.which("redis-server") is None:
        missing.append("the redis-server binary on PATH")
    if not missing:
        return None
    return "fault-injection tests need " + " and ".join(missing)


@pytest.fixture(scope="session", autouse=True)
def fault_services_required():
    skip_or_fail(missing_services())


# --- Small helpers ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    kept = text.splitlines()[-lines:]
    return f"(last {len(kept)} lines of {path})\n" + "\n".join(kept)


def subprocess_database_url(*, through=None) -> str:
    """DATABASE_URL for pytest-django's test database, directly or by way of a TcpProxy."""
    url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + quote(connection.settings_dict["NAME"]))
    if through is not None:
        user = url.netloc.rpartition("@")[0]
        url = url._replace(netloc=f"{user}@{through.host}:{through.port}" if user else f"{through.host}:{through.port}")
    return url.geturl()


# --- A Redis of the test's own -----------------------------------------------------------------

class PrivateRedis:
    """redis-server on a free loopback port, with no persistence: a restart starts empty."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = workdir / "redis.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        assert self.process is None, "redis-server is already running"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"redis-server exited at start:\n{_tail(self.log_path)}")
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer PING within 10 s:\n{_tail(self.log_path)}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Shut the server down (SIGTERM) and wait until its port refuses connections."""
        assert self.process is not None, "redis-server is not running"
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None
        try:
            self.client().ping()
        except redis.ConnectionError:
            return
        raise AssertionError(f"Redis still answers on port {self.port} after its server stopped")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, socket_connect_timeout=2)

    def flushall(self) -> None:
        assert self.client().flushall()


# --- Celery subprocesses -------------------------------------------------------------------------

class CeleryProcess:
    """A `celery -A calendence ...` subprocess with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, ready_marker: str):
        self.name, self.log_path, self.ready_marker = name, log_path, ready_marker
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.ready_marker not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{_tail(self.log_path)}")
            time.sleep(0.05)

    def sigkill(self) -> int:
        """os.kill(pid, SIGKILL) on the main process; returns its exit status (-9)."""
        os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int:
        """A warm shutdown (SIGTERM), as a deploy or `docker stop` does; returns the exit status."""
        self.process.terminate()
        return self.process.wait(timeout=timeout)

    def ensure_dead(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


class FaultEnvironment:
    """The private Redis, the Celery processes, and the test process pointed at both."""

    def __init__(self, workdir: Path, settings, worker_settings: dict):
        self.workdir = workdir
        self.settings = settings
        self.webhook_settings = dict(worker_settings)
        self.redis = PrivateRedis(workdir)
        self.processes: list[CeleryProcess] = []
        self.queue = django_settings.CELERY_TASK_DEFAULT_QUEUE
        self._counter = 0
        self._publisher_redirected = False
        self._database_proxy = None
        self._saved_write_url: str | None = None

    # The test process ---------------------------------------------------------------------------

    def configure(self, **values) -> None:
        """WEBHOOK_* values for this process and for every subprocess started after this call."""
        for name, value in values.items():
            assert name in FAULT_SETTINGS, name
            self.webhook_settings[name] = value
            setattr(self.settings, name, value)

    def _publish_to_private_redis(self) -> None:
        # Celery reads CELERY_BROKER_WRITE_URL from the environment before its own config,
        # and builds its connection and producer pools lazily: drop them so that the next
        # publish (the API's after-commit enqueue) connects to the private Redis.
        self._saved_write_url = os.environ.get("CELERY_BROKER_WRITE_URL")
        self._publisher_redirected = True
        os.environ["CELERY_BROKER_WRITE_URL"] = self.redis.url
        self._reset_publisher_pools(close=False)
        assert celery_app.connection_for_write().as_uri().startswith(f"redis://127.0.0.1:{self.redis.port}/")

    def _restore_publisher(self) -> None:
        if not self._publisher_redirected:
            return
        self._reset_publisher_pools(close=True)
        if self._saved_write_url is None:
            os.environ.pop("CELERY_BROKER_WRITE_URL", None)
        else:
            os.environ["CELERY_BROKER_WRITE_URL"] = self._saved_write_url

    @staticmethod
    def _reset_publisher_pools(*, close: bool) -> None:
        amqp = celery_app.__dict__.get("amqp")
        if close:
            for pool in (getattr(amqp, "_producer_pool", None), celery_app._pool):
                if pool is not None:
                    try:
                        pool.force_close_all()
                    except Exception:  # noqa: BLE001 - the server may be gone already
                        pass
        celery_app._pool = None
        if amqp is not None:
            amqp._producer_pool = None

    # Subprocesses -------------------------------------------------------------------------------------

    def route_database_through(self, proxy) -> None:
        """Processes started after this reach PostgreSQL through `proxy` (tests.support.tcp_proxy)."""
        self._database_proxy = proxy

    def subprocess_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_BROKER_")}
        env.update(
            DJANGO_SETTINGS_MODULE="tests.settings",
            DATABASE_URL=subprocess_database_url(through=self._database_proxy),
            CELERY_BROKER_URL=self.redis.url,
            CELERY_QUEUE=self.queue,
            CALENDENCE_VAR_DIR=str(self.workdir / "var"),
            CALENDENCE_ENV="development",
            # The test's own key: the workers decrypt the secrets of the endpoints it made.
            WEBHOOK_SECRETS_KEY=django_settings.WEBHOOK_SECRETS_KEY,
            WEBHOOK_ALLOW_PRIVATE_URLS="true",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
        )
        env.update({name: str(value) for name, value in self.webhook_settings.items()})
        return env

    def _spawn(self, name: str, extra: list[str], ready_marker: str) -> CeleryProcess:
        argv = [sys.executable, "-m", "celery", "-A", "calendence", *extra]
        proc = CeleryProcess(name, argv, self.subprocess_env(), self.workdir / f"{name}.log", ready_marker)
        self.processes.append(proc)
        return proc

    def start_worker(self, name: str | None = None, *, wait: bool = True) -> CeleryProcess:
        """A worker as in production: the threads pool, INFO logs; on this test's queue and Redis."""
        self._counter += 1
        name = name or f"worker{self._counter}"
        proc = self._spawn(
            name,
            ["worker", "--pool", "threads", "--concurrency", str(WORKER_CONCURRENCY), "--loglevel", "INFO",
             "--hostname", f"{name}@%h"],
            ready_marker=" ready.",
        )
        if wait:
            proc.wait_ready()
        return proc

    def start_beat(self, *, wait: bool = True) -> CeleryProcess:
        """celery beat, as in production; its schedule file in the test's tmp dir."""
        proc = self._spawn(
            "beat",
            ["beat", "--loglevel", "INFO", "--schedule", str(self.workdir / "beat-schedule")],
            ready_marker="beat: Starting...",
        )
        if wait:
            proc.wait_ready()
        return proc

    # Life cycle --------------------------------------------------------------------------------------

    def setup(self) -> None:
        (self.workdir / "var").mkdir(exist_ok=True)
        for name, value in self.webhook_settings.items():
            setattr(self.settings, name, value)
        for tries_left in (2, 1, 0):
            try:
                self.redis.start()
                break
            except RuntimeError:
                if not tries_left:  # the free port was taken meanwhile, three times: give up
                    raise
                self.redis = PrivateRedis(self.workdir)
        self._publish_to_private_redis()

    def teardown(self) -> None:
        try:
            for proc in self.processes:
                proc.ensure_dead()
        finally:
            try:
                self._restore_publisher()
            finally:
                self.redis.kill()

    def log_tails(self) -> dict[str, str]:
        tails = {proc.name: _tail(proc.log_path) for proc in self.processes}
        tails["redis"] = _tail(self.redis.log_path, 40)
        return tails


@pytest.fixture
def faults(transactional_db, settings, tmp_path, request):
    """A private Redis (started) and the test process publishing to it; start workers and beat on it.

    Depends on transactional_db, so its teardown (every subprocess killed) runs before
    pytest-django flushes the test database.
    """
    env = FaultEnvironment(tmp_path, settings, FAULT_SETTINGS)
    request.node._fault_environment = env
    try:
        env.setup()
        yield env
    finally:
        env.teardown()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the subprocesses' logs to the report of a failing fault test."""
    report = yield
    env = getattr(item, "_fault_environment", None)
    if env is not None and report.failed:
        for name, text in env.log_tails().items():
            report.sections.append((f"log of {name}", text))
    return report


# --- Receivers whose answer depends on the attempt -----------------------------------------------------

class ScriptedReceiver(Receiver):
    """The tests' real receiver, answering each request as `script(attempt_number)` says.

    The answer is chosen when the request is recorded, in the thread that serves it, so
    a test that reacts to an arrival can never change the answer of that same request.
    """

    def __init__(self, script: Callable[[int], Answer]):
        self._script = script
        self._current = threading.local()
        super().__init__(Answer())

    @property
    def answer(self) -> Answer:
        return getattr(self._current, "answer", None) or self._default_answer

    @answer.setter
    def answer(self, value: Answer) -> None:
        self._default_answer = value

    def _record(self, handler, body: bytes) -> None:
        self._current.answer = self._script(int(handler.headers.get("X-Calendence-Attempt") or 0))
        super()._record(handler, body)


@pytest.fixture
def make_scripted_receiver():
    receivers = []

    def make(script: Callable[[int], Answer]) -> ScriptedReceiver:
        receiver = ScriptedReceiver(script)
        receivers.append(receiver)
        return receiver

    yield make
    for receiver in receivers:
        receiver.close()
