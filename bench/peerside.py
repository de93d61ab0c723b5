"""The peer in the bench: django-webhook 0.0.15 (the project in bench/peer/), run from a
virtualenv of its own, on a database of its own beside the bench's, with its Celery workers
on the bench's broker under a queue of their own.

Nothing of the peer is imported here: it runs only as subprocesses of its own interpreter.
"""

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from bench import config
from bench.infra import BenchDatabase, Process

PEER_DIR = config.BENCH_DIR / "peer"
REQUIREMENTS = PEER_DIR / "requirements.txt"
READY_TIMEOUT = 90.0
# What a subprocess needs of this environment; the rest (DJANGO_SETTINGS_MODULE, our settings) stays out.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "PGPASSWORD", "PGSSLMODE")


def ensure_venv(venv: Path, log_path: Path) -> Path:
    """The peer's virtualenv with bench/peer/requirements.txt installed; made again only when that
    file changes (a stamp keeps its hash). Returns its python."""
    python = venv / "bin" / "python"
    stamp = venv / ".requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        for argv in ([sys.executable, "-m", "venv", str(venv)],
                     [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                      "-r", str(REQUIREMENTS)]):
            subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=600)
    stamp.write_text(wanted)
    return python


def worker_command(venv: Path, queue: str) -> list[str]:
    """django-webhook's documented dedicated worker (`celery -A <app> worker -Q <queue>`) with the
    pool, concurrency and log level of our docker-compose.yml worker, so both send as many at once."""
    ours = config.worker_command()
    return [str(venv / "bin" / "celery"), "-A", "peerproject", "worker", "-Q", queue,
            *ours[ours.index("worker") + 1:]]


class Peer:
    """The peer's database, queue and workers; set up on first use (prepare), gone at close."""

    def __init__(self, work_dir: Path, db_suffix: str, venv: Path, log_dir: Path):
        self.venv, self.log_dir = venv, log_dir
        self.database = BenchDatabase(work_dir, f"{db_suffix}_peer")  # DATABASE_URL's name + the suffix
        self.queue = f"peer-bench-{secrets.token_hex(4)}"
        self.broker_dir = work_dir / "peer-broker"  # only with the embedded filesystem broker
        self.workers: list[Process] = []
        self.python: Path | None = None
        self._env: dict[str, str] = {}

    def env(self, broker_url: str) -> dict[str, str]:
        env = {k: os.environ[k] for k in INHERITED if k in os.environ}
        env.update(DJANGO_SETTINGS_MODULE="peerproject.settings", DATABASE_URL=self.database.url,
                   CELERY_BROKER_URL=broker_url or "filesystem://localhost//", PEER_QUEUE=self.queue,
                   PEER_BROKER_DIR=str(self.broker_dir), PEER_SECRET_KEY=secrets.token_urlsafe(40),
                   PYTHONUNBUFFERED="1")
        return env

    def prepare(self, broker_url: str) -> None:
        """Once: the virtualenv (cached across runs), a migrated template and the environment."""
        if self.python is not None:
            return
        self.python = ensure_venv(self.venv, self.log_dir / "peer-venv.log")
        self._env = self.env(broker_url)
        self.database.create_template(self._env, self.log_dir / "peer-migrate.log", str(self.python), PEER_DIR)

    def fresh(self) -> None:
        """A clean database and an empty broker folder, its workers stopped."""
        self.stop_workers()
        self.database.recreate()
        shutil.rmtree(self.broker_dir, ignore_errors=True)
        self.broker_dir.mkdir(parents=True)

    def manage(self, *args: str) -> dict:
        """One of the peer project's management commands; its JSON line."""
        done = subprocess.run([str(self.python), "manage.py", *args], cwd=PEER_DIR, env=self._env,
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"peer manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def start_workers(self, sampler) -> None:
        command = worker_command(self.venv, self.queue)
        for number in range(1, config.worker_replicas() + 1):
            name = f"peerworker{number}"
            self.workers.append(Process(name, command, self._env, self.log_dir / f"{name}.log", cwd=PEER_DIR))
        for worker in self.workers:
            worker.wait_ready(" ready.", timeout=READY_TIMEOUT)
            sampler.watch(worker.name, worker.pid)

    def stop_workers(self, sampler=None) -> None:
        for worker in self.workers:
            if sampler is not None:
                sampler.unwatch(worker.name)
            worker.stop()
        self.workers = []

    def close(self, keep_database: bool = False) -> None:
        self.stop_workers()
        if self.python is None:
            return
        if self._env["CELERY_BROKER_URL"].startswith(("redis://", "rediss://")):
            from bench.harness import delete_queue

            delete_queue(self.queue)
        shutil.rmtree(self.broker_dir, ignore_errors=True)
        if not keep_database:
            self.database.drop()
